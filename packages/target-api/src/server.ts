/**
 * The API's process entry: parse flags, build, listen, tell the parent (IPC) it is ready,
 * and shut down gracefully on SIGTERM/SIGINT, reporting what happened to e-mails in flight.
 *   pnpm --filter @mailbench/target-api start -- --variant background --mongo-uri mongodb://…
 */
import { buildApp } from './app.ts';
import { parseServerArgs, SERVER_HELP, type ServerConfig } from './contract/flags.ts';
import type { ReadyMessage, ShutdownMessage, ShutdownReport } from './contract/messages.ts';
import { resolveOptions, type AppOptions } from './contract/options.ts';

function fail(message: string, exitCode: number): never {
  process.stderr.write(`target-api: ${message}\n`);
  process.exit(exitCode);
}

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(SERVER_HELP);
  process.exit(0);
}
let config: ServerConfig;
let options: AppOptions;
try {
  config = parseServerArgs(argv, process.env);
  options = resolveOptions(config.app);
} catch (err) {
  fail(`${(err as Error).message}\n\n${SERVER_HELP}`, 2);
}

const report = (r: ShutdownReport) => {
  process.stderr.write(`[target-api] shutdown: ${r.drained} e-mails drained, ${r.abandoned} abandoned\n`);
  process.send?.({ type: 'shutdown', ...r } satisfies ShutdownMessage);
};

let app: Awaited<ReturnType<typeof buildApp>>;
try {
  app = await buildApp({ ...options, onShutdown: report });
  await app.listen({ host: config.host, port: config.port });
} catch (err) {
  fail(`could not start: ${(err as Error).message}`, 1);
}
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.port;
process.stderr.write(`[target-api] ${options.variant} listening on http://${config.host}:${port} (pid ${process.pid})\n`);
process.send?.({ type: 'ready', port, variant: options.variant, pid: process.pid } satisfies ReadyMessage);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[target-api] ${signal}: closing\n`);
  const force = setTimeout(() => fail('shutdown took too long, exiting', 1), options.drainTimeoutMs + 10_000);
  force.unref();
  await app.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
// A forked server whose parent died must not linger.
process.on('disconnect', () => void stop('parent gone'));
