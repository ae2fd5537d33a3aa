/**
 * runBench(): the whole matrix. Database and sink once; then every cell in a fresh API process,
 * repeats interleaved (A B C A B C) so drift on a noisy machine spreads evenly; then the optional
 * capacity probe; then summary.json and summary.md. Files are written as cells finish, so an
 * interrupted run keeps what it measured (run.json says complete: false).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { isRunnable } from '../config/subjects.ts';
import type { ApiServer } from '../targets/api-server.ts';
import { reachTarget } from '../targets/cell-server.ts';
import { runCell } from '../trial/cell.ts';
import { ResultsWriteError } from '../shapes/errors.ts';
import { writeReport } from '../render/report.ts';
import { toJtl } from '../export/jtl.ts';
import { newRunTag, SignupNames } from '../config/requests.ts';
import { cellFileName, writeJson, writeListed, writeText } from '../results/files.ts';
import { runBreakingPoints } from '../search/search.ts';
import { withFactor } from '../config/factors.ts';
import { buildSummary } from '../summary/summary.ts';
import type { Runnable } from '../shapes/scenario.ts';
import type { CapacityResult, CellResult, StepResult } from '../shapes/results.ts';
import type { CellContext, CellSpec } from '../trial/context.ts';
import { runCapacity } from '../trial/capacity.ts';
import { makeRunId, prepareRunDir } from '../results/run-dir.ts';
import { Progress, describeCell, describeStep } from './progress.ts';
import {
  databaseRecord,
  startServices,
  stopServices,
  type Services,
} from '../services/services.ts';
import type { RunInfo } from '../shapes/run.ts';
import { renderSummaryMarkdown } from '../render/markdown.ts';
import { announce, newRunInfo } from './record.ts';
import { coresOf, pinningPlan, pinProcess } from '../services/pinning.ts';
import {
  estimateBreakingPointSec,
  estimateCellSec,
  estimateStepSec,
  planCells,
  scaleAroundLimit,
  type BenchOutcome,
  type BenchPlan,
} from './plan.ts';

/** What a run has measured so far, written to disk as it grows. */
interface RunState {
  runDir: string;
  run: RunInfo;
  done: Array<{ file: string; result: CellResult }>;
  capacity: CapacityResult[];
  steps: Array<{ file: string; result: StepResult }>;
  current: { server: ApiServer | null };
  remainingSec: number;
}

function writeRun(state: RunState): void {
  writeJson(path.join(state.runDir, 'run.json'), state.run);
}

/**
 * One result's files (a cell and its .jtl, a step, a capacity probe) and run.json listing the
 * first of them, all or nothing: run.json never lists a file that is not there, nor leaves one out.
 */
function recordResult(
  state: RunState,
  list: string[],
  files: Array<{ file: string; text: string }>,
): void {
  writeListed(
    files.map((f) => ({ file: path.join(state.runDir, f.file), text: f.text })),
    () => {
      list.push(files[0]!.file);
      try {
        writeRun(state);
      } catch (err) {
        list.pop();
        throw err;
      }
    },
  );
}

const asJson = (data: unknown) => `${JSON.stringify(data, null, 2)}\n`;

export async function runBench(input: BenchPlan): Promise<BenchOutcome> {
  let plan = input;
  const { signal } = plan;
  const progress = plan.progress ?? new Progress();
  const { runDir, runId } = prepareRunDir(plan.outDir, makeRunId(plan.scenario.name));
  const names = new SignupNames(newRunTag());
  let cells = planCells(plan.scenario);
  let estimates = cells.map((c) =>
    estimateCellSec(withFactor(plan.scenario, c.factor), c.variant, c.requests),
  );
  // --around-limit measures every variant's capacity first: the probes are the plan's first part.
  const capacityVariants =
    plan.scenario.capacity.enabled || plan.aroundLimit
      ? plan.scenario.variants.filter(isRunnable)
      : [];
  const capacityEstimate =
    capacityVariants.length *
    Math.max(1, plan.scenario.repeats) *
    (plan.scenario.capacity.durationSec + plan.scenario.warmup.durationSec + 6);
  const state: RunState = {
    runDir,
    run: newRunInfo(plan, runId, names.tag),
    done: [],
    capacity: [],
    steps: [],
    current: { server: null },
    remainingSec:
      estimates.reduce((a, b) => a + b, 0) +
      capacityEstimate +
      estimateBreakingPointSec(plan.scenario) +
      3,
  };
  announce(plan, progress, cells, state.remainingSec, runDir);
  const onAbort = () => state.current.server?.kill();
  signal.addEventListener('abort', onAbort, { once: true });
  const opened: Partial<Services> = {};
  // --pin-cores: the runner (and what it starts from now on) on the harness's cores; the API's
  // process is put on its own as it starts (targets/). The runner's cores are given back at the end.
  const ownCores = plan.scenario.pinCores ? coresOf(process.pid) : null;
  if (plan.scenario.pinCores) {
    state.run.pinning = pinningPlan();
    pinProcess(process.pid, state.run.pinning.harness);
  }
  let writeFailure: ResultsWriteError | null = null;
  let started = false;
  try {
    opened.names = names;
    const services = await startServices(plan, (line) => progress.log(line), opened);
    if (plan.scenario.target) await reachTarget(plan.scenario.target.url);
    started = true;
    await recordServices(plan, progress, services, state);
    if (plan.aroundLimit) {
      await runCapacities(plan, progress, services, state, capacityVariants);
      plan = {
        ...plan,
        scenario: scaleAroundLimit(plan.scenario, state.capacity, state.run, progress),
      };
      cells = planCells(plan.scenario);
      estimates = cells.map((c) =>
        estimateCellSec(withFactor(plan.scenario, c.factor), c.variant, c.requests),
      );
      writeRun(state);
    }
    await runCells(plan, progress, services, state, cells, estimates);
    if (plan.scenario.breakingPoint.enabled) await runSearches(plan, progress, services, state);
    if (!plan.aroundLimit) await runCapacities(plan, progress, services, state, capacityVariants);
  } catch (err) {
    // Nothing was measured when the database, Redis or the target could not be reached: no
    // results folder is left behind for `pnpm report` to pick as the newest run.
    if (!started) rmSync(runDir, { recursive: true, force: true });
    if (!(err instanceof ResultsWriteError)) throw err;
    writeFailure = err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    state.current.server?.kill();
    await stopServices(opened);
    if (ownCores) pinProcess(process.pid, ownCores);
    progress.end();
  }
  endRun(plan, state, cells, capacityVariants);
  if (writeFailure) {
    // The run stops at the first result it cannot keep; run.json says so if it still can.
    state.run.complete = false;
    state.run.failure = writeFailure.message;
    try {
      writeRun(state);
    } catch {
      // run.json as last written still lists exactly the files on disk.
    }
    throw writeFailure;
  }
  writeRun(state);
  return finishRun(state, progress);
}

/** What a cell or a step needs of the run: the services, the signal, and progress under a label. */
function contextFor(
  plan: BenchPlan,
  services: Services,
  state: RunState,
  progress: Progress,
  label: () => string,
  startedAt: () => number,
): CellContext {
  return {
    runId: state.run.runId,
    scenario: plan.scenario,
    names: services.names,
    mongoUri: services.database?.uri ?? null,
    redisUrl: services.redis?.url ?? null,
    client: services.client,
    target: plan.scenario.target,
    sink: services.sink,
    signal: plan.signal,
    onProgress: (event) =>
      progress.cell(label(), event, state.remainingSec - (Date.now() - startedAt()) / 1000),
    onServer: (server) => (state.current.server = server),
    onPhase: (text) => progress.phase(label(), text),
  };
}

/** What the run opened, in run.json as soon as it is known. */
async function recordServices(
  plan: BenchPlan,
  progress: Progress,
  services: Services,
  state: RunState,
): Promise<void> {
  state.run.database = await databaseRecord(services);
  state.run.smtpSink.port = services.sink.port;
  const redis = services.redis;
  if (redis)
    state.run.redis = {
      engine: redis.engine,
      version: redis.version,
      persistence: redis.persistence,
    };
  const target = plan.scenario.target;
  if (target) {
    const sink = `${services.sink.host}:${services.sink.port}`;
    progress.log(
      `target ${target.url} (cells labelled ${target.label}): its e-mail goes to the sink at ${sink}`,
    );
  }
  writeRun(state);
}

/** How the run ended, in run.json: interrupted or complete, and the cells it did not get to. */
function endRun(
  plan: BenchPlan,
  state: RunState,
  cells: CellSpec[],
  capacityVariants: Runnable[],
): void {
  const { scenario, signal } = plan;
  const ran = new Set(state.run.cells);
  state.run.interrupted = signal.aborted;
  state.run.notRun = cells
    .map((c) => cellFileName(c.label, c.requests, c.repeat, scenario.repeats))
    .filter((f) => !ran.has(f));
  state.run.complete =
    !signal.aborted &&
    state.run.cells.length === cells.length &&
    state.run.capacity.length === capacityVariants.length * Math.max(1, scenario.repeats);
  if (scenario.breakingPoint.enabled) state.run.steps ??= [];
  state.run.endedAt = new Date().toISOString();
}

async function runCells(
  plan: BenchPlan,
  progress: Progress,
  services: Services,
  state: RunState,
  cells: CellSpec[],
  estimates: number[],
): Promise<void> {
  const { scenario, signal } = plan;
  for (const spec of cells) {
    if (signal.aborted) break;
    const label = `[${spec.index + 1}/${cells.length}] ${spec.label} ${spec.requests} req${scenario.repeats > 1 ? ` r${spec.repeat}` : ''}`;
    const cellStarted = Date.now();
    const result = await runCell(
      contextFor(
        plan,
        services,
        state,
        progress,
        () => label,
        () => cellStarted,
      ),
      spec,
    );
    state.remainingSec -= estimates[spec.index] ?? 0;
    if (signal.aborted && result.status === 'failed') break; // an interrupted cell is not a result
    const file = cellFileName(spec.label, spec.requests, spec.repeat, scenario.repeats);
    recordResult(state, state.run.cells, [
      { file, text: asJson(result) },
      { file: file.replace(/\.json$/, '.jtl'), text: toJtl(result) },
    ]);
    state.done.push({ file, result });
    progress.log(describeCell(label, result, (Date.now() - cellStarted) / 1000));
  }
}

async function runSearches(
  plan: BenchPlan,
  progress: Progress,
  services: Services,
  state: RunState,
): Promise<void> {
  const { scenario } = plan;
  state.run.steps = [];
  let started = Date.now();
  let current = '';
  await runBreakingPoints(
    contextFor(
      plan,
      services,
      state,
      progress,
      () => current,
      () => started,
    ),
    {
      onStart: (label, step, rate, attempt) => {
        const again =
          attempt > 1 ? ` (again: attempt ${attempt}, the last one's generator fell behind)` : '';
        current = `breaking point ${label} step ${step}: ${rate.toFixed(1)}/s${again}`;
        started = Date.now();
      },
      onStep: (file, result) => {
        // The estimate counts down by a step's worth (the searches' length is not known in
        // advance).
        state.remainingSec = Math.max(0, state.remainingSec - estimateStepSec(scenario));
        recordResult(state, state.run.steps!, [{ file, text: asJson(result) }]);
        state.steps.push({ file, result });
        progress.log(describeStep(current, result));
      },
    },
  );
}

async function runCapacities(
  plan: BenchPlan,
  progress: Progress,
  services: Services,
  state: RunState,
  variants: Runnable[],
): Promise<void> {
  // Each variant probed `repeats` times, interleaved (A B C, A B C).
  const repeats = Math.max(1, plan.scenario.repeats);
  const probes = Array.from({ length: repeats }, (_, r) =>
    variants.map((v) => ({ v, r: r + 1 })),
  ).flat();
  for (const [index, { v: variant, r: repeat }] of probes.entries()) {
    if (plan.signal.aborted) break;
    const label = `capacity ${variant}${repeats > 1 ? ` r${repeat}` : ''}`;
    const started = Date.now();
    const result = await runCapacity(
      contextFor(
        plan,
        services,
        state,
        progress,
        () => label,
        () => started,
      ),
      variant,
      index,
    );
    const file = `${variant}/capacity${repeats > 1 ? `-r${repeat}` : ''}.json`;
    recordResult(state, state.run.capacity, [{ file, text: asJson(result) }]);
    state.capacity.push(result);
    progress.log(
      `${label}: ${result.status === 'ok' ? `${result.requestsPerSec.toFixed(1)} sign-ups/s, p99 ${result.latencyMs?.p99 ?? '–'} ms` : `failed: ${result.error}`}`,
    );
  }
}

/** summary.json, summary.md and the report, from what the run measured. */
async function finishRun(state: RunState, progress: Progress): Promise<BenchOutcome> {
  const { runDir, run, done, capacity, steps } = state;
  const summary = buildSummary(run, done, capacity, steps);
  const markdown = renderSummaryMarkdown(summary, run);
  writeJson(path.join(runDir, 'summary.json'), summary);
  writeText(path.join(runDir, 'summary.md'), markdown);
  let reportFile: string | null = null;
  let reportError: string | null = null;
  try {
    reportFile = (await writeReport({ dir: runDir, run, cells: done, capacity, steps, summary }))
      .html;
    progress.log(`report: ${reportFile}`);
  } catch (err) {
    // The measurements are on disk; a report can be made later with pnpm report.
    if (err instanceof ResultsWriteError) throw err;
    reportError = `report.html could not be written (${(err as Error).message}); try: pnpm report ${runDir}`;
    progress.log(reportError);
  }
  const thresholdsFailed = summary.thresholds.some((t) => t.failed.length > 0);
  const allValid = done.every((c) => c.result.valid) && capacity.every((c) => c.status === 'ok');
  return { runDir, run, summary, markdown, thresholdsFailed, allValid, reportFile, reportError };
}
