/**
 * The `pnpm run docs` process: the documentation's generated blocks rewritten from the reference
 * runs (`--check`: compared, nothing written; exit 1 when any differs).
 */
import { parseArgs } from 'node:util';
import { generateDocs } from '../evidence/docs.ts';

const HELP = `Usage: pnpm run docs [--check]   (pnpm docs is pnpm's own command)

Rewrites the generated blocks of README.md, docs/*.md and results/README.md (between
<!-- generated: NAME … --> and <!-- /generated -->) and the charts they copy, from the reference
runs that results/reference-runs.json names. Hand-written prose outside the blocks is left alone.

  --check    write nothing; list every block that differs and exit 1 if any does
  --help     this text`;

function main(argv: string[]): number {
  let values: { check: boolean; help: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: {
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`mailbench docs: ${(err as Error).message} (see --help)\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  try {
    const changed = generateDocs({ check: values.check });
    for (const d of changed)
      process.stderr.write(
        `${d.page}${d.line ? `:${d.line}` : ''}: ${d.block} ${values.check ? 'differs from the runs' : 'rewritten'}\n`,
      );
    if (values.check && changed.length > 0) {
      process.stderr.write('run pnpm run docs to rewrite them from the runs\n');
      return 1;
    }
    if (changed.length === 0) process.stderr.write('every generated block matches the runs\n');
    return 0;
  } catch (err) {
    process.stderr.write(`mailbench docs: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
