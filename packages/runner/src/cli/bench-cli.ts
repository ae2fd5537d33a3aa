/**
 * The `pnpm bench` process: benchMain (bench-main.ts) with the process's streams and environment,
 * Ctrl-C and SIGTERM turned into a stop (partial results written), a second one into an exit.
 */
import { benchMain } from './bench-main.ts';

// A reader that went away (pnpm bench | head) must not end the run: results are still written.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

const controller = new AbortController();
let interrupts = 0;
function onSignal(name: string): void {
  interrupts++;
  if (interrupts > 1) {
    process.stderr.write('\nmailbench: second interrupt, exiting now\n');
    process.exit(130);
  }
  process.stderr.write(
    `\nmailbench: ${name}: stopping every child process and writing partial results (again to force)\n`,
  );
  controller.abort();
}
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

benchMain(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mailbench: unexpected failure: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
