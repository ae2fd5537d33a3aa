/**
 * The `pnpm report` process: reportMain (report-main.ts) with the process's streams and
 * environment.
 */
import { reportMain } from './report-main.ts';

reportMain(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `mailbench report: unexpected failure: ${(err as Error).stack ?? String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
