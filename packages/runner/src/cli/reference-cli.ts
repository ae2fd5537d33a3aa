/**
 * The `pnpm bench:reference` process: the reference runs (results/reference.json) re-made from a
 * clean tree, one after another, resumable; `--list` prints the set and its duration.
 */
import { parseArgs } from 'node:util';
import { runReferenceSet } from '../evidence/reference.ts';

const HELP = `Usage: pnpm bench:reference [NAME ...] [--list] [--again]

Re-makes the reference runs that the documentation quotes (results/reference.json), one after
another, each as pnpm bench with its arguments, into results/. Refuses a tree with changes
outside results/: every run must name a clean commit. Each finished run's per-request files are
compressed, the name's previous run is removed, and results/reference-runs.json records it, so an
interrupted set resumes where it stopped (a name already made at today's code is skipped).
Afterwards, pnpm run docs rewrites the generated figures.

  NAME ...   only these runs (default: the whole set)
  --list     print the set: each run's command, what it is for, its duration and state; the total
  --again    make the named runs again even where they are current
  --help     this text`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        list: { type: 'boolean', default: false },
        again: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  }
  try {
    parsed = parse();
  } catch (err) {
    process.stderr.write(`mailbench bench:reference: ${(err as Error).message} (see --help)\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  try {
    return await runReferenceSet(
      { names: parsed.positionals, list: parsed.values.list, again: parsed.values.again },
      {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      },
    );
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`mailbench bench:reference: ${e.message}\n`);
    return e.name === 'UsageError' ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
