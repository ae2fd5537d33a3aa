/**
 * runBench(): the whole matrix. Database and sink once; then every cell in a fresh API process,
 * repeats interleaved (A B C A B C) so drift on a noisy machine spreads evenly; then the optional
 * capacity probe; then summary.json and summary.md. Files are written as cells finish, so an
 * interrupted run keeps what it measured (run.json says complete: false).
 */
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { runClosedLoop, runOpenLoop } from '@mailbench/loadgen';
import { startMongo, type MongoHandle } from '@mailbench/mongo';
import { describeLatency, parseLatency, startSmtpSink, type SmtpSink } from '@mailbench/smtp-sink';
import { forkApiServer, type ApiServer } from './api-server.ts';
import { dbNameFor, runCell, serverArgs, signupRequest, type CellSpec } from './cell.ts';
import { collectVersions, gitInfo, machineInfo } from './environment.ts';
import { UsageError } from './errors.ts';
import { formatDuration, Progress } from './progress.ts';
import { writeReport } from './report.ts';
import { cellFileName, SCHEMA_VERSION, writeJson, writeText, type CapacityResult, type CellResult, type RunInfo, type Summary } from './results.ts';
import type { Scenario, VariantName } from './scenario.ts';
import { buildSummary, renderSummaryMarkdown } from './summary.ts';

export interface BenchPlan {
  scenario: Scenario;
  outDir: string;
  mongo: 'auto' | 'mongod' | 'standin';
  mongoUri: string | null;
  argv: string[];
  signal: AbortSignal;
  progress?: Progress;
}

export interface BenchOutcome {
  runDir: string;
  run: RunInfo;
  summary: Summary;
  markdown: string;
  allValid: boolean;
}

export function makeRunId(scenarioName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${scenarioName}`;
}

/** Fails before any load if the results folder cannot be written. */
export function prepareRunDir(outDir: string, runId: string): string {
  const runDir = path.resolve(outDir, runId);
  try {
    mkdirSync(runDir, { recursive: true });
    accessSync(runDir, constants.W_OK);
    const probe = path.join(runDir, '.write-test');
    writeFileSync(probe, 'ok');
    rmSync(probe);
  } catch (err) {
    throw new UsageError('ERR_OUT_UNWRITABLE', `cannot write results to ${runDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another folder with --out`);
  }
  return runDir;
}

/** The cells in execution order: repeats interleaved, A B C A B C. */
export function planCells(scenario: Scenario): CellSpec[] {
  const cells: CellSpec[] = [];
  for (let repeat = 1; repeat <= scenario.repeats; repeat++) {
    for (const requests of scenario.requests) {
      for (const variant of scenario.variants) cells.push({ index: cells.length, variant, requests, repeat });
    }
  }
  return cells;
}

/** Rough wall time of one cell: the window, the warm-up, start/stop and a drain allowance. */
export function estimateCellSec(scenario: Scenario, variant: VariantName, requests: number): number {
  const latencyMs = Math.max(0, medianLatencyMs(scenario.smtp.latency));
  const pool = scenario.transport.mode === 'pooled' ? scenario.transport.maxConnections : 50;
  const sendRate = latencyMs > 0 ? (pool * 1000) / latencyMs : Number.POSITIVE_INFINITY;
  const offered = requests / scenario.durationSec;
  const drain = variant === 'no-email' || sendRate >= offered ? 1 : Math.min(scenario.drainTimeoutSec, requests / sendRate - scenario.durationSec);
  return scenario.durationSec + scenario.warmup.durationSec + 4 + Math.max(1, drain);
}

function medianLatencyMs(spec: string): number {
  const l = parseLatency(spec);
  switch (l.kind) {
    case 'fixed':
      return l.ms;
    case 'uniform':
      return (l.minMs + l.maxMs) / 2;
    case 'normal':
      return l.meanMs;
    case 'lognormal':
      return l.medianMs;
  }
}

export async function runBench(plan: BenchPlan): Promise<BenchOutcome> {
  const { scenario, signal } = plan;
  const progress = plan.progress ?? new Progress();
  const runId = makeRunId(scenario.name);
  const runDir = prepareRunDir(plan.outDir, runId);
  const cells = planCells(scenario);
  const capacityVariants = scenario.capacity.enabled ? scenario.variants : [];
  const estimates = cells.map((c) => estimateCellSec(scenario, c.variant, c.requests));
  const capacityEstimate = capacityVariants.length * (scenario.capacity.durationSec + scenario.warmup.durationSec + 6);
  let remainingSec = estimates.reduce((a, b) => a + b, 0) + capacityEstimate + 3;
  progress.log(
    `mailbench: scenario ${scenario.name}: ${cells.length} cells (${scenario.variants.join(', ')} × ${scenario.requests.join('/')} requests over ${scenario.durationSec} s` +
      `${scenario.repeats > 1 ? ` × ${scenario.repeats} repeats` : ''})${capacityVariants.length ? ` + capacity probe for ${capacityVariants.length} variants` : ''}; ` +
      `estimated ${formatDuration(remainingSec)}. Results: ${runDir}`,
  );

  const run: RunInfo = {
    schemaVersion: SCHEMA_VERSION,
    kind: 'run',
    runId,
    scenarioName: scenario.name,
    scenario,
    argv: plan.argv,
    versions: collectVersions(),
    machine: machineInfo(),
    database: { engine: 'unknown', version: 'unknown' },
    smtpSink: { latency: describeLatency(parseLatency(scenario.smtp.latency)), host: '127.0.0.1' },
    git: gitInfo(),
    startedAt: new Date().toISOString(),
    endedAt: null,
    complete: false,
    interrupted: false,
    cells: [],
    capacity: [],
  };
  const done: Array<{ file: string; result: CellResult }> = [];
  const capacity: CapacityResult[] = [];
  let mongo: MongoHandle | null = null;
  let client: MongoClient | null = null;
  let sink: SmtpSink | null = null;
  const current: { server: ApiServer | null } = { server: null };
  const onAbort = () => current.server?.kill();
  signal.addEventListener('abort', onAbort, { once: true });

  const writeRun = () => writeJson(path.join(runDir, 'run.json'), run);
  try {
    mongo = await startMongo({
      engine: plan.mongo,
      ...(plan.mongoUri ? { uri: plan.mongoUri } : {}),
      log: (line) => progress.log(line),
    });
    run.database = { engine: mongo.engine, version: mongo.version };
    client = new MongoClient(mongo.uri, { maxPoolSize: 5 });
    await client.connect();
    sink = await startSmtpSink({
      latency: parseLatency(scenario.smtp.latency),
      maxConnections: scenario.smtp.maxConnections,
      maxMessagesPerSec: scenario.smtp.maxMessagesPerSec,
      tempFailRate: scenario.smtp.tempFailRate,
      permFailRate: scenario.smtp.permFailRate,
      seed: scenario.smtp.seed,
    });
    writeRun();

    for (const spec of cells) {
      if (signal.aborted) break;
      const label = `[${spec.index + 1}/${cells.length}] ${spec.variant} ${spec.requests} req${scenario.repeats > 1 ? ` r${spec.repeat}` : ''}`;
      const cellStarted = Date.now();
      const estimate = estimates[spec.index] ?? 0;
      const result = await runCell(
        {
          runId,
          scenario,
          mongoUri: mongo.uri,
          mongo: client,
          sink,
          signal,
          onProgress: (event) => progress.cell(label, event, remainingSec - (Date.now() - cellStarted) / 1000),
          onServer: (server) => {
            current.server = server;
          },
        },
        spec,
      );
      remainingSec -= estimate;
      if (signal.aborted && result.status === 'failed') break; // an interrupted cell is not a result
      const file = cellFileName(spec.variant, spec.requests, spec.repeat, scenario.repeats);
      writeJson(path.join(runDir, file), result);
      done.push({ file, result });
      run.cells.push(file);
      writeRun();
      progress.log(describeCell(label, result, (Date.now() - cellStarted) / 1000));
    }

    for (const variant of capacityVariants) {
      if (signal.aborted) break;
      const result = await runCapacity(runId, scenario, variant, mongo.uri, client, sink, (s) => (current.server = s));
      const file = `${variant}/capacity.json`;
      writeJson(path.join(runDir, file), result);
      capacity.push(result);
      run.capacity.push(file);
      writeRun();
      progress.log(`capacity ${variant}: ${result.status === 'ok' ? `${result.requestsPerSec.toFixed(1)} sign-ups/s, p99 ${result.latencyMs?.p99 ?? '–'} ms` : `failed: ${result.error}`}`);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    current.server?.kill();
    await client?.close().catch(() => {});
    await sink?.close().catch(() => {});
    await mongo?.stop().catch(() => {});
    progress.end();
  }
  run.interrupted = signal.aborted;
  run.complete = !signal.aborted && run.cells.length === cells.length && run.capacity.length === capacityVariants.length;
  run.endedAt = new Date().toISOString();
  writeRun();
  const summary = buildSummary(run, done, capacity);
  const markdown = renderSummaryMarkdown(summary, run);
  writeJson(path.join(runDir, 'summary.json'), summary);
  writeText(path.join(runDir, 'summary.md'), markdown);
  try {
    const { html } = await writeReport(runDir);
    progress.log(`report: ${html}`);
  } catch (err) {
    // The measurements are already on disk; a report can be made later with pnpm report.
    progress.log(`report could not be written (${(err as Error).message}); try: pnpm report ${runDir}`);
  }
  return { runDir, run, summary, markdown, allValid: done.every((c) => c.result.valid) && capacity.every((c) => c.status === 'ok') };
}

function describeCell(label: string, r: CellResult, tookSec: number): string {
  if (r.status === 'failed') return `${label}: FAILED (${r.error})${r.serverStderrTail ? `\n  server stderr:\n    ${r.serverStderrTail.split('\n').join('\n    ')}` : ''}`;
  const l = r.latencyMs!;
  const mails = r.variant === 'no-email' ? '' : `; e-mails ${r.emails.delivered}/${r.emails.expected}${r.emails.lost ? `, ${r.emails.lost} lost` : ''}${r.emails.duplicated ? `, ${r.emails.duplicated} dup.` : ''}`;
  return (
    `${label}: avg ${l.fromSend.mean.toFixed(0)} ms from send, ${l.fromIntended.mean.toFixed(0)} from intended, p99 ${l.fromIntended.p99.toFixed(0)}; ` +
    `errors ${r.errors}${mails}; ${r.valid ? 'valid' : `INVALID (${r.reasons.join('; ')})`}; took ${formatDuration(tookSec)}`
  );
}

async function runCapacity(
  runId: string,
  scenario: Scenario,
  variant: VariantName,
  mongoUri: string,
  mongo: MongoClient,
  sink: SmtpSink,
  onServer: (s: ApiServer | null) => void,
): Promise<CapacityResult> {
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
  const dbName = dbNameFor(runId, { index: 0, variant, requests: 0, repeat: 0 }).replace(/_0_r0$/, '_capacity');
  let server: ApiServer | null = null;
  try {
    await mongo.db(dbName).dropDatabase();
    server = await forkApiServer(serverArgs({ scenario, mongoUri, sink }, variant, dbName));
    onServer(server);
    if (scenario.warmup.requests > 0) {
      await runOpenLoop({
        baseUrl: server.url,
        count: scenario.warmup.requests,
        durationMs: scenario.warmup.durationSec * 1000,
        connection: 'keep-alive',
        request: (i) => signupRequest('w', i),
      });
    }
    const result = await runClosedLoop({
      baseUrl: server.url,
      connections: scenario.capacity.connections,
      durationSec: scenario.capacity.durationSec,
      request: (i) => signupRequest('u', i),
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
    await mongo.db(dbName).dropDatabase().catch(() => {});
  }
  base.endedAt = new Date().toISOString();
  return base;
}
