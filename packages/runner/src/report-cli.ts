/**
 * pnpm report [results/<run-id>]          writes report.html and charts/*.svg (default: the latest run)
 * pnpm report --compare <runA> <runB>     prints per-cell differences and writes compare-<A>-vs-<B>.md
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compareRuns, renderComparison } from './compare.ts';
import { resolveOutDir } from './out-dir.ts';
import { loadRun, writeReport } from './report.ts';
import { writeText } from './results.ts';

const HELP = `Usage:
  pnpm report [RUN_DIR]                 report.html and charts/*.svg for a run (default: the newest in results/)
  pnpm report --compare RUN_A RUN_B     per-cell differences, with the spread of repeats

RUN_DIR is a folder written by pnpm bench, e.g. results/20261127-120000-default.
`;

function latestRun(resultsDir: string): string {
  const runs = readdirSync(resultsDir)
    .map((name) => path.join(resultsDir, name))
    .filter((p) => statSync(p).isDirectory())
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (runs.length === 0) throw new Error(`no runs in ${resultsDir}; run pnpm bench first`);
  return runs[0] as string;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  while (argv[0] === '--') argv.shift();
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { compare: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    process.stderr.write(`mailbench report: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const dirs = parsed.positionals.map((p) => resolveOutDir(p));
  try {
    if (parsed.values.compare) {
      if (dirs.length !== 2) {
        process.stderr.write(`mailbench report: --compare needs two run folders\n\n${HELP}`);
        return 2;
      }
      const [a, b] = dirs.map(loadRun) as [ReturnType<typeof loadRun>, ReturnType<typeof loadRun>];
      const text = renderComparison(compareRuns(a.cells.map((c) => c.result), b.cells.map((c) => c.result)), a.run.runId, b.run.runId);
      const file = path.join(b.dir, `compare-${a.run.runId}-vs-${b.run.runId}.md`);
      writeText(file, text);
      process.stdout.write(`${text}\nWritten: ${file}\n`);
      return 0;
    }
    if (dirs.length > 1) {
      process.stderr.write(`mailbench report: one run folder at a time (or --compare A B)\n\n${HELP}`);
      return 2;
    }
    const dir = dirs[0] ?? latestRun(resolveOutDir(null));
    const { html, charts } = await writeReport(dir);
    process.stdout.write(`${html}\n${charts.map((c) => `  ${c}`).join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`mailbench report: ${(err as Error).message}\n`);
    return (err as { code?: string }).code === 'ERR_REPORT_NOT_A_RUN' ? 2 : 1;
  }
}

main().then((code) => {
  process.exitCode = code;
});
