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
  process.stderr.write(
    `[target-api] shutdown: ${r.drained} e-mails drained, ${r.abandoned} abandoned\n`,
  );
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
process.stderr.write(
  `[target-api] ${options.variant} listening on http://${config.host}:${port} (pid ${process.pid})\n`,
);
process.send?.({
  type: 'ready',
  port,
  variant: options.variant,
  pid: process.pid,
} satisfies ReadyMessage);

/**
 * How long requests still being received or answered may take once shutdown begins. Then every
 * connection is cut, so that no client (one dribbling its body, say) can hold the e-mail drain,
 * which fastify runs only after the HTTP server has closed.
 */
const HTTP_GRACE_MS = Math.min(5000, options.drainTimeoutMs);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[target-api] ${signal}: closing\n`);
  const force = setTimeout(
    () => fail('shutdown took too long, exiting', 1),
    HTTP_GRACE_MS + options.drainTimeoutMs + 10_000,
  );
  force.unref();
  const cut = setTimeout(() => {
    process.stderr.write(`[target-api] connections still open after ${HTTP_GRACE_MS} ms: cut\n`);
    app.server.closeAllConnections();
  }, HTTP_GRACE_MS);
  await app.close();
  clearTimeout(cut);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
// A forked server whose parent died (even by SIGKILL) must not linger: nobody will read what it
// measures, so it exits at once (a bullmq worker process of its own notices the same way).
process.on('disconnect', () => {
  process.stderr.write('[target-api] parent gone: exiting\n');
  process.exit(1);
});
