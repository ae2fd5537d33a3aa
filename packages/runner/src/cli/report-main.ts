/**
 * pnpm report [RUN] [--rejudge]          report.html and charts/*.svg for a run, in a new folder
 * pnpm report --compare RUN_A RUN_B      per-cell differences with the spread of repeats
 * RUN is a run id (its folder in results/) or a folder written by pnpm bench. Nothing is written
 * into results/ unless --out says so: committed results stay as they were measured.
 */
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compareRuns, renderComparison, renderComparisonHtml } from '../summary/compare.ts';
import { resolveOutDir } from './out-dir.ts';
import type { CliIo } from './bench-main.ts';
import { writeReport } from '../render/report.ts';
import { safeFileName, writeText } from '../results/files.ts';
import { loadRun, type LoadedRun } from '../results/load.ts';

const HELP = `Usage:
  pnpm report [RUN] [--out DIR] [--rejudge]      report.html and charts/*.svg for a run
  pnpm report --compare RUN_A RUN_B [--out DIR]  per-cell differences, with the spread of repeats

RUN is a run id (e.g. 20261127-120000-default, looked up in results/ and results/reference/) or the path of a folder
written by pnpm bench. Without RUN: the newest run in results/ by its id.
--out DIR: where to write (default: a new folder in the system's temporary directory, printed).
Reports are written outside results/ unless --out points there; the same run gives the same bytes.
The report shows the run's own judgement and summary (summary.json), as the run wrote them.
--rejudge: judge the stored cells by today's rules and build the summary again, in memory (the
files are not changed); runs whose summary predates its verdict sentences are always rebuilt.
`;

function resolveRun(arg: string, env: NodeJS.ProcessEnv): string {
  const asGiven = resolveOutDir(arg, env);
  if (existsSync(asGiven)) return asGiven;
  const inResults = path.join(resolveOutDir(null, env), arg);
  if (existsSync(inResults)) return inResults;
  // The reference runs (pnpm bench:reference) live in results/reference/.
  const inReference = path.join(resolveOutDir(null, env), 'reference', arg);
  if (existsSync(inReference)) return inReference;
  throw Object.assign(new Error(`no run "${arg}" (looked for ${asGiven} and ${inResults})`), {
    code: 'ERR_REPORT_NOT_A_RUN',
  });
}

/** The newest run in results/ by its id (ids start with the time they were started). */
function latestRun(resultsDir: string): string {
  const runs = readdirSync(resultsDir)
    .filter(
      (name) => /^\d{8}-\d{6}-/.test(name) && statSync(path.join(resultsDir, name)).isDirectory(),
    )
    .sort();
  const newest = runs[runs.length - 1];
  if (!newest)
    throw Object.assign(new Error(`no runs in ${resultsDir}; run pnpm bench first`), {
      code: 'ERR_REPORT_NOT_A_RUN',
    });
  return path.join(resultsDir, newest);
}

function outDirFor(out: string | undefined, label: string, env: NodeJS.ProcessEnv): string {
  return out !== undefined
    ? resolveOutDir(out, env)
    : mkdtempSync(path.join(os.tmpdir(), `mailbench-${label}-`));
}

function compare(
  dirs: string[],
  out: string | undefined,
  rejudge: boolean,
  { stdout, stderr, env }: Omit<CliIo, 'signal'>,
): number {
  if (dirs.length !== 2) {
    stderr.write(`mailbench report: --compare needs two runs\n\n${HELP}`);
    return 2;
  }
  const [a, b] = dirs.map((dir) => loadRun(dir, { rejudge })) as [LoadedRun, LoadedRun];
  const differs = [
    'smtp',
    'transport',
    'hashCost',
    'durationSec',
    'connection',
    'faults',
    'pinCores',
  ].filter(
    (k) =>
      JSON.stringify(a.run.scenario[k as keyof typeof a.run.scenario]) !==
      JSON.stringify(b.run.scenario[k as keyof typeof b.run.scenario]),
  );
  const warnings =
    differs.length > 0
      ? [
          `the runs differ in ${differs.join(', ')}: a difference may come from the configuration, not the code`,
        ]
      : [];
  for (const w of warnings) stderr.write(`mailbench report: warning: ${w}\n`);
  const rows = compareRuns(
    a.cells.map((c) => c.result),
    b.cells.map((c) => c.result),
    { a: a.summary.breakingPoints ?? [], b: b.summary.breakingPoints ?? [] },
  );
  if (rows.length === 0) {
    stderr.write(
      `mailbench report: ${a.run.runId} and ${b.run.runId} have no cell (label and request count) and no breaking-point search in common: nothing to compare\n`,
    );
    return 2;
  }
  const text = renderComparison(rows, a.run.runId, b.run.runId, warnings);
  const dir = outDirFor(out, 'compare', env);
  // Run ids come from run.json files, which anyone may have written: never a path.
  const file = path.join(
    dir,
    `compare-${safeFileName(a.run.runId)}-vs-${safeFileName(b.run.runId)}.md`,
  );
  writeText(file, text);
  const html = file.replace(/\.md$/, '.html');
  writeText(html, renderComparisonHtml(rows, a.run.runId, b.run.runId, warnings));
  stdout.write(`${text}\nWritten: ${file}\n         ${html}\n`);
  return 0;
}

/**
 * pnpm report as a function: argv in, an exit code out (report-cli.ts gives it the process's
 * streams).
 */
export async function reportMain(
  args: string[],
  { stdout, stderr, env }: Omit<CliIo, 'signal'>,
): Promise<number> {
  const argv = [...args];
  while (argv[0] === '--') argv.shift();
  const options = {
    compare: { type: 'boolean' },
    out: { type: 'string' },
    rejudge: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof options }>
  >;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options });
  } catch (err) {
    stderr.write(`mailbench report: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    stdout.write(HELP);
    return 0;
  }
  try {
    const dirs = parsed.positionals.map((p) => resolveRun(p, env));
    const rejudge = parsed.values.rejudge === true;
    if (parsed.values.compare)
      return compare(dirs, parsed.values.out, rejudge, { stdout, stderr, env });
    if (dirs.length > 1) {
      stderr.write(`mailbench report: one run at a time (or --compare A B)\n\n${HELP}`);
      return 2;
    }
    const dir = dirs[0] ?? latestRun(resolveOutDir(null, env));
    const { html, charts } = await writeReport(
      loadRun(dir, { rejudge }),
      outDirFor(parsed.values.out, `report-${path.basename(dir)}`, env),
    );
    stdout.write(`${html}\n${charts.map((c) => `  ${c}`).join('\n')}\n`);
    return 0;
  } catch (err) {
    stderr.write(`mailbench report: ${(err as Error).message}\n`);
    return (err as { code?: string }).code === 'ERR_REPORT_NOT_A_RUN' ? 2 : 1;
  }
}
