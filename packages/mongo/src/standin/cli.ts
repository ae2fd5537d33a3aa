/**
 * Runs the stand-in as its own process. When forked, it reports
 * `{ type: 'ready', port, uri, version }` over IPC and exits when its parent goes away.
 *   pnpm --filter @mailbench/mongo start -- --port 27017
 */
import { parseArgs } from 'node:util';
import { startStandinServer } from './server.ts';

const HELP = `Usage: mongo-standin [--host 127.0.0.1] [--port 0]

A MongoDB wire-protocol server, in memory, for the mailbench benchmark.
It serves the official driver for the commands mailbench uses; see the package README.
`;

const argv = process.argv.slice(2);
while (argv[0] === '--') argv.shift();
let values: { host?: string | undefined; port?: string | undefined; help?: boolean | undefined };
try {
  ({ values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  process.stderr.write(`mongo-standin: ${(err as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const port = Number(values.port ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`mongo-standin: --port must be 0-65535, got ${values.port}\n`);
  process.exit(2);
}
const server = await startStandinServer({ host: values.host ?? '127.0.0.1', port });
if (process.send) {
  process.send({ type: 'ready', port: server.port, uri: server.uri, version: server.version });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
} else {
  process.stdout.write(`mongo-standin listening: ${server.uri}\n`);
}
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
