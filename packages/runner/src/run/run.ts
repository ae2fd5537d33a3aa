/**
 * runBench(): the whole matrix. Database and sink once; then every cell in a fresh API process,
 * repeats interleaved (A B C A B C) so drift on a noisy machine spreads evenly; then the optional
 * capacity probe; then summary.json and summary.md. Files are written as cells finish, so an
 * interrupted run keeps what it measured (run.json says complete: false).
 */
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { runClosedLoop, runOpenLoop } from '@mailbench/loadgen';
import { startMongo, type MongoHandle } from '@mailbench/mongo';
import { startRedis, RedisStartError, type RedisHandle } from '@mailbench/redis';
import { describeLatency, startSmtpSink, type SmtpSink } from '@mailbench/smtp-sink';
import { isRunnable, subjectFacts } from '../config/subjects.ts';
import { referenceWiring, spawnReference } from '../targets/reference-targets.ts';
import { apiCommand, forkApiServer, type ApiServer } from '../targets/api-server.ts';
import { dbNameFor, runCell, type CellContext, type CellSpec } from '../trial/cell.ts';
import { collectVersions, gitInfo, machineInfo } from '../services/environment.ts';
import { ResultsWriteError, UsageError } from '../shapes/errors.ts';
import { formatDuration, Progress } from './progress.ts';
import { writeReport } from '../render/report.ts';
import { toJtl } from '../export/jtl.ts';
import { newRunTag, SignupNames } from '../config/requests.ts';
import { ORIGINAL_LIMIT_PER_SEC } from '../summary/presentation.ts';
import { latencyMedianMs } from '../config/latency.ts';
import { cellFileName, safeFileName, writeJson, writeListed, writeText } from '../results/files.ts';
import { cellLabels } from '../config/scenario.ts';
import { runBreakingPoints } from '../search/search.ts';
import { factorValues, runsAt, withFactor } from '../config/factors.ts';
import { buildSummary, renderSummaryMarkdown } from '../summary/summary.ts';
import { releaseDir, releaseProcess, watchDir, watchProcess } from '../services/watchdog.ts';
import { measuredFlags } from '../config/flags.ts';
import type { Runnable, Subject, MongoEngineChoice, Scenario, Overrides } from '../shapes/scenario.ts';
import { SCHEMA_VERSION, type CapacityResult, type CellResult, type RunInfo, type Summary, type StepResult } from '../shapes/results.ts';
import { isReference, referenceVersions } from '../config/references.ts';

export interface BenchPlan {
  scenario: Scenario;
  outDir: string;
  mongoEngine: MongoEngineChoice;
  mongoUri: string | null;
  argv: string[];
  /** The flags' parsed overrides, recorded in run.json. */
  overrides?: Overrides;
  signal: AbortSignal;
  progress?: Progress;
  /** Scale the request counts to this stack's measured limit (see scaleAroundLimit). */
  aroundLimit?: boolean;
  /** Where the SMTP sink listens; absent or null: 127.0.0.1 and a free port. */
  sink?: { host: string | null; port: number | null };
}

export interface BenchOutcome {
  runDir: string;
  run: RunInfo;
  summary: Summary;
  markdown: string;
  allValid: boolean;
  /** A threshold failed on some cell: the CLI exits 99. */
  thresholdsFailed: boolean;
  /** report.html, or null when it could not be written (reportError says why). */
  reportFile: string | null;
  reportError: string | null;
}

/** The run's id: its start to the second, then the scenario's name (in file-name characters). */
export function makeRunId(scenarioName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${safeFileName(scenarioName)}`;
}

/**
 * Creates the run's folder, exclusively: a run never writes into another's. Two runs started in
 * the same second get `<id>` and `<id>-2`. Fails before any load if the folder cannot be written.
 */
export function prepareRunDir(outDir: string, runId: string): { runDir: string; runId: string } {
  const unwritable = (where: string, err: unknown) =>
    new UsageError('ERR_OUT_UNWRITABLE', `cannot write results to ${where} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another folder with --out`);
  const parent = path.resolve(outDir);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw unwritable(parent, err);
  }
  for (let k = 1; k <= 100; k++) {
    const id = k === 1 ? runId : `${runId}-${k}`;
    const runDir = path.join(parent, id);
    try {
      mkdirSync(runDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw unwritable(runDir, err);
    }
    try {
      accessSync(runDir, constants.W_OK);
      const probe = path.join(runDir, '.write-test');
      writeFileSync(probe, 'ok');
      rmSync(probe);
    } catch (err) {
      rmSync(runDir, { recursive: true, force: true });
      throw unwritable(runDir, err);
    }
    return { runDir, runId: id };
  }
  throw new UsageError('ERR_OUT_UNWRITABLE', `${parent} already holds 100 runs named ${runId}; choose another folder with --out`);
}

/** The cells in execution order: repeats interleaved, A B C A B C. */
export function planCells(scenario: Scenario): CellSpec[] {
  const cells: CellSpec[] = [];
  for (let repeat = 1; repeat <= scenario.repeats; repeat++) {
    for (const requests of scenario.requests) {
      for (const { label, variant, factor } of cellLabels(scenario)) {
        if (runsAt(scenario, factor, requests)) cells.push({ index: cells.length, variant, label, requests, repeat, factor });
      }
    }
  }
  return cells;
}

/** Rough wall time of one cell: the window, the warm-up, start/stop and a drain allowance. */
export function estimateCellSec(scenario: Scenario, variant: Subject, requests: number): number {
  const latencyMs = Math.max(0, latencyMedianMs(scenario.smtp.latency));
  const pool = scenario.transport.mode === 'pooled' ? scenario.transport.maxConnections : 50;
  const sendRate = latencyMs > 0 ? (pool * 1000) / latencyMs : Number.POSITIVE_INFINITY;
  const offered = requests / scenario.durationSec;
  const drain = !subjectFacts(variant).sendsMail || sendRate >= offered ? 1 : Math.min(scenario.drainTimeoutSec, requests / sendRate - scenario.durationSec);
  return scenario.durationSec + scenario.warmup.durationSec + 4 + Math.max(1, drain);
}

/**
 * Opened once per run: the database (none with --target), the runner's client of the cells'
 * database (its own, or the target's when --target-mongo-uri is given), and the SMTP sink.
 */
interface Services {
  database: MongoHandle | null;
  client: MongoClient | null;
  sink: SmtpSink;
  /** The Redis of the variants that need one (REDIS_URL or a redis-server of the run's own); null when none does. */
  redis: RedisHandle | null;
  /** Who the run's sign-ups are. */
  names: SignupNames;
}

async function startServices(plan: BenchPlan, progress: Progress, opened: Partial<Services>): Promise<Services> {
  const { scenario } = plan;
  if (scenario.target) {
    opened.database = null;
    opened.client = scenario.target.mongoUri ? await connectTargetDb(scenario.target.mongoUri) : null;
  } else {
    opened.database = await startMongo({ engine: plan.mongoEngine, ...(plan.mongoUri ? { uri: plan.mongoUri } : {}), log: (line) => progress.log(line) });
    watchProcess(opened.database.pid);
    opened.client = new MongoClient(opened.database.uri, { maxPoolSize: 5 });
    await opened.client.connect();
  }
  opened.sink = await startSmtpSink({
    host: plan.sink?.host ?? '127.0.0.1',
    port: plan.sink?.port ?? 0,
    latency: scenario.smtp.latency,
    greetingDelayMs: scenario.smtp.greetingDelayMs,
    maxConnections: scenario.smtp.maxConnections,
    maxMessagesPerSec: scenario.smtp.maxMessagesPerSec,
    tempFailRate: scenario.smtp.tempFailRate,
    permFailRate: scenario.smtp.permFailRate,
    seed: scenario.smtp.seed,
  });
  opened.redis = null;
  if (!scenario.target && scenario.variants.some((v) => subjectFacts(v).usesRedis)) {
    try {
      opened.redis = await startRedis({
        onSpawn: ({ pid, dir }) => {
          watchProcess(pid);
          watchDir(dir);
        },
      });
    } catch (err) {
      if (err instanceof RedisStartError) throw new UsageError(err.code, err.message);
      throw err;
    }
    const p = opened.redis.persistence;
    progress.log(`redis ${opened.redis.version} (${opened.redis.engine}) at ${opened.redis.url}${p ? `: appendonly ${p.appendonly}, appendfsync ${p.appendfsync}, maxmemory-policy ${p.maxmemoryPolicy}` : ''}`);
  }
  return opened as Services;
}

async function connectTargetDb(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { maxPoolSize: 2, serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    await client.db().command({ ping: 1 });
  } catch (err) {
    await client.close().catch(() => {});
    throw new UsageError('ERR_TARGET_DB', `--target-mongo-uri: cannot reach the target's database ${redactUri(uri)} (${(err as Error).message})`);
  }
  return client;
}

/** Which database served the cells: the one the harness started, or an external target's (its version when known). */
async function databaseRecord(services: Services): Promise<RunInfo['database']> {
  if (services.database) return { engine: services.database.engine, version: services.database.version };
  if (!services.client) return { engine: 'external', version: 'unknown' };
  const info = await services.client.db().admin().command({ buildInfo: 1 }).catch(() => null);
  return { engine: 'external', version: typeof info?.version === 'string' ? info.version : 'unknown' };
}

async function stopServices(opened: Partial<Services>): Promise<void> {
  await opened.client?.close().catch(() => {});
  await opened.sink?.close().catch(() => {});
  await opened.redis?.stop().catch(() => {});
  releaseProcess(opened.redis?.pid);
  releaseDir(opened.redis?.dir);
  await opened.database?.stop().catch(() => {});
  releaseProcess(opened.database?.pid);
}

/**
 * A text with the credentials of every connection string in it masked, for the record. The
 * credentials end at the last '@' of the string (a password may hold an unescaped '@').
 */
export function redactUri(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)\S*@/gi, '$1***@');
}

/** The overrides for the record: a target's database URI without its credentials. */
function redactOverrides(o: Overrides): Overrides {
  return o.target ? { ...o, target: { ...o.target, mongoUri: o.target.mongoUri && redactUri(o.target.mongoUri) } } : o;
}

function newRunInfo(plan: BenchPlan, runId: string, tag: string): RunInfo {
  const target = plan.scenario.target;
  return {
    schemaVersion: SCHEMA_VERSION,
    kind: 'run',
    runId,
    signupTag: tag,
    scenarioName: plan.scenario.name,
    scenario: target ? { ...plan.scenario, target: { ...target, mongoUri: target.mongoUri && redactUri(target.mongoUri) } } : plan.scenario,
    // Connection strings lose their credentials on the way to the record.
    argv: plan.argv.map(redactUri),
    overrides: { flags: measuredFlags(plan.argv).map(redactUri), values: redactOverrides(plan.overrides ?? {}) },
    versions: collectVersions(),
    machine: machineInfo(),
    database: { engine: 'unknown', version: 'unknown' },
    smtpSink: { latency: describeLatency(plan.scenario.smtp.latency), greetingDelayMs: plan.scenario.smtp.greetingDelayMs, host: plan.sink?.host ?? '127.0.0.1', port: null },
    ...(plan.scenario.variants.some(isReference) ? { referenceStack: referenceVersions() } : {}),
    git: gitInfo(),
    runner: { pid: process.pid, hostname: os.hostname() },
    startedAt: new Date().toISOString(),
    endedAt: null,
    complete: false,
    interrupted: false,
    cells: [],
    capacity: [],
  };
}

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
function recordResult(state: RunState, list: string[], files: Array<{ file: string; text: string }>): void {
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

function announce(plan: BenchPlan, progress: Progress, cells: CellSpec[], remainingSec: number, runDir: string): void {
  const s = plan.scenario;
  const capacity = s.capacity.enabled ? ` + capacity probe for ${s.variants.length} variants` : '';
  const bp = s.breakingPoint;
  const search = bp.enabled
    ? ` + breaking-point search for ${s.variants.length * factorValues(s).length} labels (${bp.stepSec} s steps from ${bp.startRate}/s ×${bp.growth}, ${bp.bisections} bisections; SLO p99 ≤ ${bp.sloP99Ms} ms, e-mail ≥ ${bp.mailShare * 100} %)`
    : '';
  const matrix = cells.length > 0 ? `${cells.length} cells (${s.variants.join(', ')} × ${s.requests.join('/')} requests over ${s.durationSec} s${s.repeats > 1 ? ` × ${s.repeats} repeats` : ''})` : 'no cells';
  progress.log(
    `mailbench: scenario ${s.name}: ${matrix}${capacity}${search}; estimated ${formatDuration(remainingSec)}. Results: ${runDir}`,
  );
}

export async function runBench(input: BenchPlan): Promise<BenchOutcome> {
  let plan = input;
  const { signal } = plan;
  const progress = plan.progress ?? new Progress();
  const { runDir, runId } = prepareRunDir(plan.outDir, makeRunId(plan.scenario.name));
  const names = new SignupNames(newRunTag());
  let cells = planCells(plan.scenario);
  let estimates = cells.map((c) => estimateCellSec(withFactor(plan.scenario, c.factor), c.variant, c.requests));
  // --around-limit measures every variant's capacity first: the probes are the plan's first part.
  const capacityVariants = plan.scenario.capacity.enabled || plan.aroundLimit ? plan.scenario.variants.filter(isRunnable) : [];
  const capacityEstimate = capacityVariants.length * (plan.scenario.capacity.durationSec + plan.scenario.warmup.durationSec + 6);
  const state: RunState = {
    runDir,
    run: newRunInfo(plan, runId, names.tag),
    done: [],
    capacity: [],
    steps: [],
    current: { server: null },
    remainingSec: estimates.reduce((a, b) => a + b, 0) + capacityEstimate + estimateBreakingPointSec(plan.scenario) + 3,
  };
  announce(plan, progress, cells, state.remainingSec, runDir);
  const onAbort = () => state.current.server?.kill();
  signal.addEventListener('abort', onAbort, { once: true });
  const opened: Partial<Services> = {};
  let writeFailure: ResultsWriteError | null = null;
  try {
    opened.names = names;
    const services = await startServices(plan, progress, opened);
    state.run.database = await databaseRecord(services);
    state.run.smtpSink.port = services.sink.port;
    if (services.redis) state.run.redis = { engine: services.redis.engine, version: services.redis.version, persistence: services.redis.persistence };
    if (plan.scenario.target) progress.log(`target ${plan.scenario.target.url} (cells labelled ${plan.scenario.target.label}): its e-mail goes to the sink at ${services.sink.host}:${services.sink.port}`);
    writeRun(state);
    if (plan.aroundLimit) {
      await runCapacities(plan, progress, services, state, capacityVariants);
      plan = { ...plan, scenario: scaleAroundLimit(plan.scenario, state.capacity, state.run, progress) };
      cells = planCells(plan.scenario);
      estimates = cells.map((c) => estimateCellSec(withFactor(plan.scenario, c.factor), c.variant, c.requests));
      writeRun(state);
    }
    await runCells(plan, progress, services, state, cells, estimates);
    if (plan.scenario.breakingPoint.enabled) await runSearches(plan, progress, services, state);
    if (!plan.aroundLimit) await runCapacities(plan, progress, services, state, capacityVariants);
  } catch (err) {
    if (!(err instanceof ResultsWriteError)) throw err;
    writeFailure = err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    state.current.server?.kill();
    await stopServices(opened);
    progress.end();
  }
  const scenario = plan.scenario;
  state.run.interrupted = signal.aborted;
  const ran = new Set(state.run.cells);
  state.run.notRun = cells.map((c) => cellFileName(c.label, c.requests, c.repeat, scenario.repeats)).filter((f) => !ran.has(f));
  state.run.complete = !signal.aborted && state.run.cells.length === cells.length && state.run.capacity.length === capacityVariants.length;
  if (scenario.breakingPoint.enabled) state.run.steps ??= [];
  state.run.endedAt = new Date().toISOString();
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

/**
 * --around-limit: the request counts at the same ratios to this stack's limit as the original
 * experiment's were to its ~13 sign-ups/s (750 over 60 s is 0.96 of it, 1000 is 1.28). The limit
 * is the lowest closed-loop capacity among the variants run: the stack is as fast as its slowest
 * strategy, and the matrix then straddles where the first of them collapses.
 */
export function scaleAroundLimit(scenario: Scenario, capacity: CapacityResult[], run: RunInfo, progress?: Progress): Scenario {
  const measured = capacity.filter((c) => c.status === 'ok' && c.requestsPerSec > 0);
  if (measured.length === 0) throw new UsageError('ERR_AROUND_LIMIT', '--around-limit: no capacity probe succeeded, so there is no limit to scale the matrix to');
  const slowest = measured.reduce((a, b) => (b.requestsPerSec < a.requestsPerSec ? b : a));
  const limit = slowest.requestsPerSec;
  const ratios = scenario.requests.map((n) => n / scenario.durationSec / ORIGINAL_LIMIT_PER_SEC);
  const requests = [...new Set(ratios.map((r) => Math.max(1, Math.round(r * limit * scenario.durationSec))))];
  const scaled = { ...scenario, requests, stages: null };
  run.scenario = scaled;
  run.aroundLimit = { limitPerSec: limit, limitedBy: slowest.variant, originalLimitPerSec: ORIGINAL_LIMIT_PER_SEC, ratios: ratios.map((r) => Math.round(r * 1000) / 1000), requests };
  progress?.log(`around the limit: ${slowest.variant}'s capacity ${limit}/s is the stack's; the matrix becomes ${requests.join('/')} requests over ${scenario.durationSec} s (ratios ${run.aroundLimit.ratios.join(', ')} of it, as ${scenario.requests.join('/')} were of the original's ~${ORIGINAL_LIMIT_PER_SEC}/s)`);
  return scaled;
}

/** What a cell or a step needs of the run: the services, the signal, and progress under a label. */
function contextFor(plan: BenchPlan, services: Services, state: RunState, progress: Progress, label: () => string, startedAt: () => number): CellContext {
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
    onProgress: (event) => progress.cell(label(), event, state.remainingSec - (Date.now() - startedAt()) / 1000),
    onServer: (server) => (state.current.server = server),
    onPhase: (text) => progress.phase(label(), text),
  };
}

async function runCells(plan: BenchPlan, progress: Progress, services: Services, state: RunState, cells: CellSpec[], estimates: number[]): Promise<void> {
  const { scenario, signal } = plan;
  for (const spec of cells) {
    if (signal.aborted) break;
    const label = `[${spec.index + 1}/${cells.length}] ${spec.label} ${spec.requests} req${scenario.repeats > 1 ? ` r${spec.repeat}` : ''}`;
    const cellStarted = Date.now();
    const result = await runCell(
      contextFor(plan, services, state, progress, () => label, () => cellStarted),
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

/** Rough wall time of one breaking-point step: its window, the warm-up, the SLO's worth of tail, start and stop. */
function estimateStepSec(scenario: Scenario): number {
  const bp = scenario.breakingPoint;
  return bp.stepSec + scenario.warmup.durationSec + bp.sloP99Ms / 1000 + 6;
}

/** Rough wall time of the breaking-point searches: a ladder to ~50/s and the bisections, per label. */
export function estimateBreakingPointSec(scenario: Scenario): number {
  const bp = scenario.breakingPoint;
  if (!bp.enabled) return 0;
  const rungs = Math.max(1, Math.ceil(Math.log(Math.max(1, 50 / bp.startRate)) / Math.log(bp.growth)) + 1);
  return factorValues(scenario).length * scenario.variants.length * (rungs + bp.bisections) * estimateStepSec(scenario);
}

async function runSearches(plan: BenchPlan, progress: Progress, services: Services, state: RunState): Promise<void> {
  const { scenario } = plan;
  state.run.steps = [];
  let started = Date.now();
  let current = '';
  await runBreakingPoints(
    contextFor(plan, services, state, progress, () => current, () => started),
    {
      onStart: (label, step, rate) => {
        current = `breaking point ${label} step ${step}: ${rate.toFixed(1)}/s`;
        started = Date.now();
      },
      onStep: (file, result) => {
        // The estimate counts down by a step's worth (the searches' length is not known in advance).
        state.remainingSec = Math.max(0, state.remainingSec - estimateStepSec(scenario));
        recordResult(state, state.run.steps!, [{ file, text: asJson(result) }]);
        state.steps.push({ file, result });
        progress.log(describeStep(current, result));
      },
    },
  );
}
function describeStep(label: string, r: StepResult): string {
  if (r.status === 'failed') return `${label}: FAILED (${r.error})`;
  const l = r.latencyMs;
  const share = r.emails?.share ?? null;
  const mail = r.emails ? `; e-mail ${share === null ? 'none owed' : `${Math.round(share * 100)} % by the deadline`}, backlog ${r.emails.backlogGrowthPerSec ?? '–'}/s` : '';
  const verdict = r.generatorLimited ? 'GENERATOR LIMIT' : `HTTP ${r.httpOk ? 'ok' : 'broken'}${r.mailOk === null ? '' : `, e-mail ${r.mailOk ? 'keeps up' : 'behind'}`}`;
  const latency = l ? `p99 ${l.fromIntended.p99.toFixed(0)} ms, mean ${l.fromIntended.mean.toFixed(0)} ms` : 'no 2xx answer';
  return `${label}: ${latency}, errors ${r.errors}${mail} → ${verdict}`;
}

async function runCapacities(plan: BenchPlan, progress: Progress, services: Services, state: RunState, variants: Runnable[]): Promise<void> {
  for (const variant of variants) {
    if (plan.signal.aborted) break;
    const result = await runCapacity(state.run.runId, plan.scenario, variant, services, (s) => (state.current.server = s));
    const file = `${variant}/capacity.json`;
    recordResult(state, state.run.capacity, [{ file, text: asJson(result) }]);
    state.capacity.push(result);
    progress.log(`capacity ${variant}: ${result.status === 'ok' ? `${result.requestsPerSec.toFixed(1)} sign-ups/s, p99 ${result.latencyMs?.p99 ?? '–'} ms` : `failed: ${result.error}`}`);
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
    reportFile = (await writeReport(runDir)).html;
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

function describeCell(label: string, r: CellResult, tookSec: number): string {
  if (r.status === 'failed') return `${label}: FAILED (${r.error})${r.serverStderrTail ? `\n  server stderr:\n    ${r.serverStderrTail.split('\n').join('\n    ')}` : ''}`;
  const l = r.latencyMs;
  const e = r.emails;
  const mails = !subjectFacts(r.variant).sendsMail ? '' : `; e-mails ${e.delivered}/${e.expected}${e.lost ? `, ${e.lost} lost` : ''}${e.abandoned ? `, ${e.abandoned} abandoned` : ''}${e.duplicated ? `, ${e.duplicated} dup.` : ''}`;
  const latency = l ? `avg ${l.fromSend.mean.toFixed(0)} ms from send, ${l.fromIntended.mean.toFixed(0)} from intended, p99 ${l.fromIntended.p99.toFixed(0)}` : 'no expected answer';
  return `${label}: ${latency}; errors ${r.errors}${mails}; ${r.valid ? 'valid' : `INVALID (${r.reasons.join('; ')})`}; took ${formatDuration(tookSec)}`;
}

async function runCapacity(runId: string, scenario: Scenario, variant: Runnable, services: Services, onServer: (s: ApiServer | null) => void): Promise<CapacityResult> {
  const startedAt = new Date().toISOString();
  const base: CapacityResult = {
    schemaVersion: SCHEMA_VERSION,
    kind: 'capacity',
    runId,
    variant,
    status: 'failed',
    error: null,
    connections: scenario.capacity.connections,
    durationSec: scenario.capacity.durationSec,
    requestsPerSec: 0,
    total: 0,
    latencyMs: null,
    statusCounts: {},
    errors: 0,
    startedAt,
    endedAt: startedAt,
  };
  const dbName = dbNameFor(runId, { label: variant, requests: 0, repeat: 0 }).replace(/_0_r0$/, '_capacity');
  let server: ApiServer | null = null;
  const { client, database } = services;
  try {
    // --target refuses the probe: the built-in API's database is always there.
    if (!client || !database) throw new Error('the capacity probe needs the database the harness started');
    await client.db(dbName).dropDatabase();
    // After cells at swept latencies, the probe runs at the scenario's own.
    if (scenario.sweep?.factor === 'smtpLatencyMs') services.sink.setLatency(scenario.smtp.latency);
    server = isReference(variant)
      ? await spawnReference(variant, referenceWiring(database.uri, dbName, services.sink), scenario.reference)
      : await forkApiServer(apiCommand(scenario, variant, { mongoUri: database.uri, dbName, sink: services.sink, redisUrl: services.redis?.url ?? null }));
    onServer(server);
    if (scenario.warmup.requests > 0) {
      await runOpenLoop({
        baseUrl: server.url,
        count: scenario.warmup.requests,
        durationMs: scenario.warmup.durationSec * 1000,
        connection: 'keep-alive',
        request: (i) => services.names.signup('w', i),
      });
    }
    const result = await runClosedLoop({
      baseUrl: server.url,
      connections: scenario.capacity.connections,
      durationSec: scenario.capacity.durationSec,
      request: (i) => services.names.signup('u', i),
      timeoutSec: scenario.timeoutSec,
    });
    Object.assign(base, {
      status: 'ok',
      requestsPerSec: Math.round(result.requestsPerSec * 10) / 10,
      total: result.total,
      latencyMs: result.latencyMs,
      statusCounts: result.statusCounts,
      errors: result.errors + result.timeouts + result.non2xx,
    });
    await server.stop(scenario.drainTimeoutSec * 1000 + 15_000);
  } catch (err) {
    base.error = (err as Error).message;
  } finally {
    server?.kill();
    if (server) await server.exited;
    onServer(null);
    await client?.db(dbName).dropDatabase().catch(() => {});
  }
  base.endedAt = new Date().toISOString();
  return base;
}
