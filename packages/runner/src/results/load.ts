/**
 * A run folder read back: run.json, its cells, steps and probes, each through migrate() into
 * today's shape, and its summary. The summary is the one the run wrote (computed once, when the
 * run ended) unless it is missing, was written before summaries carried their verdict, or a
 * re-judgement is asked for: then the cells are judged by today's rules and the summary is built
 * again, in memory (the files are not rewritten).
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { parseThreshold } from '../config/thresholds.ts';
import { judgeCell } from '../judge/judge.ts';
import { evaluateThresholds } from '../judge/thresholds.ts';
import type { CapacityResult, CellResult, StepResult } from '../shapes/results.ts';
import { buildSummary } from '../summary/summary.ts';
import { migrateCell, migrateRun } from './migrate.ts';
import type { RunInfo, Summary } from '../shapes/run.ts';

export interface LoadedRun {
  dir: string;
  run: RunInfo;
  cells: Array<{ file: string; result: CellResult }>;
  capacity: CapacityResult[];
  steps: Array<{ file: string; result: StepResult }>;
  summary: Summary;
}

/**
 * A file a run folder's run.json names, inside that folder: run.json is data anyone may have
 * written, so `../` and absolute paths are refused rather than followed.
 */
export function fileInRun(dir: string, file: unknown): string {
  const ok =
    typeof file === 'string' &&
    /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*\.json$/.test(file);
  const resolved = ok ? path.resolve(dir, file) : '';
  if (!ok || !resolved.startsWith(path.resolve(dir) + path.sep)) {
    throw Object.assign(
      new Error(
        `${dir}/run.json names a result file outside its folder (${JSON.stringify(file)}); refusing to read it`,
      ),
      { code: 'ERR_REPORT_NOT_A_RUN' },
    );
  }
  return resolved;
}

/**
 * A result file, or its gzip-compressed form (`x.json.gz`, as the committed reference runs keep
 * their per-request samples) where only that exists.
 */
function readJson<T>(file: string): T {
  if (!existsSync(file) && existsSync(`${file}.gz`))
    return JSON.parse(gunzipSync(readFileSync(`${file}.gz`)).toString('utf8')) as T;
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/**
 * `rejudge`: judge the cells and evaluate the thresholds again by today's rules, and rebuild the
 * summary.
 */
export function loadRun(dir: string, options: { rejudge?: boolean } = {}): LoadedRun {
  const runFile = path.join(dir, 'run.json');
  if (!existsSync(runFile)) {
    throw Object.assign(
      new Error(`${dir} is not a mailbench run (no run.json); give a folder under results/`),
      { code: 'ERR_REPORT_NOT_A_RUN' },
    );
  }
  const run = migrateRun(readJson<RunInfo>(runFile));
  const share = run.scenario.faults.badInput?.share;
  let cells = run.cells.map((file) => ({
    file,
    result: migrateCell(readJson<CellResult>(fileInRun(dir, file)), share),
  }));
  if (options.rejudge) {
    const thresholds = run.scenario.thresholds.map((t) => parseThreshold(t.expr));
    cells = cells.map(({ file, result }) => {
      const rejudged = { ...result, ...judgeCell(result, run.scenario) };
      return {
        file,
        result: { ...rejudged, thresholds: evaluateThresholds(thresholds, rejudged) },
      };
    });
  }
  const capacity = run.capacity.map((file) => readJson<CapacityResult>(fileInRun(dir, file)));
  const steps = (run.steps ?? []).map((file) => ({
    file,
    result: readJson<StepResult>(fileInRun(dir, file)),
  }));
  const summaryFile = path.join(dir, 'summary.json');
  const stored =
    !options.rejudge && existsSync(summaryFile) ? readJson<Summary>(summaryFile) : null;
  // Summaries written before they carried their verdict are built again from the cells.
  const summary =
    stored && Array.isArray(stored.verdict) ? stored : buildSummary(run, cells, capacity, steps);
  return { dir, run, cells, capacity, steps, summary };
}
