/**
 * One cell: a fresh API process for one variant and one request count (or an external target),
 * in named phases: start, warm up, measure (with sampling and faults beside it), drain, account,
 * stop, judge.
 */
import type { MongoClient } from 'mongodb';
import { runOpenLoop, type OpenLoopResult, type ProgressEvent } from '@mailbench/loadgen';
import type { SmtpSink } from '@mailbench/smtp-sink';
import type { MailCounters, MailFailure, ShutdownReport } from '@mailbench/target-api/contract';
import { accountEmails, failedIndexes, firstAcceptances, lastAcceptanceEpochMs, owedRegistrations, replyFigures } from './accounting.ts';
import { apiCommand, ServerStartError, type ApiServer } from '../targets/api-server.ts';
import { CellServer, ExternalTarget, ReferenceTarget, type CellTarget } from '../targets/cell-server.ts';
import { referenceWiring, spawnReference } from '../targets/reference-targets.ts';
import { runJMeterCell } from './jmeter-cell.ts';
import { openCellWindow, type CellWindow } from './window.ts';
import { judgeCell } from '../judge/judge.ts';
import { evaluateThresholds } from '../judge/thresholds.ts';
import { answeredAsMeant, BAD_INPUT_STATUS, badInputKind, type SignupNames } from '../config/requests.ts';
import { withFactor } from '../config/factors.ts';
import { latencyMedianMs } from '../config/latency.ts';
import { subjectFacts } from '../config/subjects.ts';
import { round2 } from '../shapes/numbers.ts';
import type { Scenario, FactorValue, Subject, TargetSpec } from '../shapes/scenario.ts';
import { type CellResult, SCHEMA_VERSION } from '../shapes/results.ts';
import { isReference } from '../config/references.ts';

export interface CellContext {
  runId: string;
  scenario: Scenario;
  /** Who this run's sign-ups are (its tag in every username and address). */
  names: SignupNames;
  /** The database the built-in API is started on; null with --target (the harness starts none). */
  mongoUri: string | null;
  /** The run's Redis, for the variants that need one. */
  redisUrl?: string | null;
  /**
   * The runner's connection to the cells' database, for counting users and cleaning up: its own
   * (each cell's database is dropped), or an external target's (--target-mongo-uri), or null.
   */
  client: MongoClient | null;
  /** --target: the API the cells load instead of a forked one. */
  target: TargetSpec | null;
  sink: SmtpSink;
  signal: AbortSignal;
  onProgress: (event: ProgressEvent) => void;
  /** Told when a cell enters a phase without progress events of its own (warm-up, drain). */
  onPhase?: (text: string) => void;
  onServer: (server: ApiServer | null) => void;
}

export interface CellSpec {
  index: number;
  variant: Subject;
  /** How the cell is shown and filed: the variant, or its A/A twin. */
  label: string;
  requests: number;
  repeat: number;
  /** The swept factor's value this cell runs at, or null. */
  factor: FactorValue | null;
}

export function dbNameFor(runId: string, spec: Pick<CellSpec, 'label' | 'requests' | 'repeat'>): string {
  return `mb_${runId}_${spec.label}_${spec.requests}_r${spec.repeat}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 60);
}

/** The API a cell loads: forked fresh for a built-in variant, started fresh for a reference target, or the run's external target. */
export function openTarget(ctx: CellContext, variant: Subject, dbName: string): CellTarget {
  if (ctx.target) return new ExternalTarget(ctx.target.url);
  if (variant === 'external' || ctx.mongoUri === null) throw new Error('an external cell needs --target; a built-in one, a database');
  if (isReference(variant)) {
    const wiring = referenceWiring(ctx.mongoUri, dbName, ctx.sink);
    return new ReferenceTarget(() => spawnReference(variant, wiring, ctx.scenario.reference), ctx.onServer);
  }
  return new CellServer(apiCommand(ctx.scenario, variant, { mongoUri: ctx.mongoUri, dbName, sink: ctx.sink, redisUrl: ctx.redisUrl ?? null }), ctx.onServer);
}

/** How long an external target's mail must stay quiet before the missing e-mails count as lost. */
export const EXTERNAL_QUIET_MS = 5000;

/**
 * Waits, bounded, until every owed registration has arrived or been reported failed, or until
 * it is clear the rest will not come: the harness's own server holds no e-mail (none queued,
 * none in a transport) and the sink has none in progress, for a second; for an external target,
 * whose backlog the harness cannot see, the sink has accepted nothing new for
 * max(EXTERNAL_QUIET_MS, 3 × the sink's median latency). False on timeout.
 */
export async function drainOwed(sink: SmtpSink, target: CellTarget, names: SignupNames, owed: Set<number>, timeoutMs: number, sinkLatencyMs = 0): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const quietNeeded = target.owned ? 1000 : Math.max(EXTERNAL_QUIET_MS, 3 * sinkLatencyMs);
  const accountedFor = async () => {
    const arrived = firstAcceptances(sink, names);
    const failed = failedIndexes((await target.mailFailures()) ?? [], names);
    return [...owed].every((i) => arrived.has(i) || failed.has(i));
  };
  let quietSince: number | null = null;
  let lastAccepted = -1;
  while (Date.now() < deadline) {
    const stats = sink.stats().messages;
    let idle: boolean;
    if (target.owned) {
      const m = await target.metrics();
      idle = m !== null && m.emails.queued === 0 && m.emails.inFlight === 0 && stats.inProgress === 0;
      if (idle && (await accountedFor())) return true;
    } else {
      // The warm-up owes nothing by name: its e-mails are waited for by quiet alone.
      idle = stats.inProgress === 0 && stats.accepted === lastAccepted;
      lastAccepted = stats.accepted;
      if (owed.size > 0 && (await accountedFor())) return true;
    }
    if (idle) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= quietNeeded) return true;
    } else {
      quietSince = null;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function sinkLatencyMs(s: Scenario): number {
  return Math.max(0, latencyMedianMs(s.smtp.latency));
}

/** Users stored by this run's warm-up or measured sign-ups; null where the database is not known. */
async function countUsers(ctx: CellContext, dbName: string, prefix: 'w' | 'u'): Promise<number | null> {
  if (!ctx.client) return null;
  const db = ctx.target ? ctx.client.db() : ctx.client.db(dbName);
  return db.collection('users').countDocuments(ctx.names.usersFilter(prefix));
}

/** What a cell leaves behind: its own database, or on an external target's, only this run's users. */
export async function cleanUp(ctx: CellContext, dbName: string): Promise<void> {
  if (!ctx.client) return;
  if (!ctx.target) {
    await ctx.client.db(dbName).dropDatabase();
    return;
  }
  const users = ctx.client.db().collection('users');
  await users.deleteMany(ctx.names.usersFilter('w'));
  await users.deleteMany(ctx.names.usersFilter('u'));
}

/** What a cell on an external or reference target cannot see, said in its result (not findings). */
export function notCheckedFor(ctx: Pick<CellContext, 'target'>, variant: Subject): string[] {
  if (isReference(variant)) return ["server metrics, e-mail backlog and failure reports: a reference target has no mailbench /metrics or /mail/failures"];
  if (!ctx.target) return [];
  const out = ['server metrics, e-mail backlog and failure reports: the target is not a process the harness started'];
  if (!ctx.target.mongoUri) out.push('stored users: no --target-mongo-uri given');
  return out;
}

export async function runCell(cellCtx: CellContext, spec: CellSpec): Promise<CellResult> {
  const ctx = { ...cellCtx, scenario: withFactor(cellCtx.scenario, spec.factor), names: cellCtx.names.forCell(String(spec.index)) };
  const result = emptyResult(ctx, spec, new Date().toISOString());
  const dbName = dbNameFor(ctx.runId, spec);
  // A swept SMTP latency is the sink's for this cell (the sink keeps its own otherwise).
  if (spec.factor?.factor === 'smtpLatencyMs') ctx.sink.setLatency(ctx.scenario.smtp.latency);
  const server = openTarget(ctx, spec.variant, dbName);
  const abort = AbortSignal.any([ctx.signal, server.gone.signal]);
  try {
    await cleanUp(ctx, dbName);
    result.server.pid = await server.start();
    const warmupCounters = await warmUp(ctx, server, subjectFacts(spec.variant).sendsMail, abort);
    result.accounting.warmupUsers = (await countUsers(ctx, dbName, 'w')) ?? 0;
    ctx.sink.reset();
    const window = openCellWindow(server, ctx.sink, ctx.scenario.faults);
    let run: OpenLoopResult;
    let drained: Drained;
    try {
      run = await measure(ctx, spec, server, window, abort);
      drained = await drainMail(ctx, spec, server, run);
    } finally {
      window.close();
    }
    result.server.series = window.series;
    result.emails.backlogMax = server.owned ? Math.max(0, ...window.series.map((p) => p.emailsQueued + p.emailsInFlight)) : null;
    result.accounting.usersInDb = await countUsers(ctx, dbName, 'u');
    // Accounted after the stop: what the server drains while it stops arrives first, and its
    // shutdown report says what it gave up on and what it still stores.
    const shutdown = await server.stop(ctx.scenario.drainTimeoutSec * 1000 + 15_000);
    result.server.shutdown = shutdown ? { drained: shutdown.drained, abandoned: shutdown.abandoned } : null;
    account(ctx, spec, server, window, run, { ...drained, shutdown, warmupCounters }, result);
    fillFromRun(result, run, spec);
    result.status = 'ok';
  } catch (err) {
    recordFailure(result, err, server);
  } finally {
    await server.dispose();
    await cleanUp(ctx, dbName).catch(() => {});
  }
  result.endedAt = new Date().toISOString();
  Object.assign(result, judgeCell(result, ctx.scenario));
  result.thresholds = evaluateThresholds(ctx.scenario.thresholds, result);
  return result;
}

/** Warm-up: not recorded; waits for its e-mails so the sink is idle. Returns the server's counters after it. */
export async function warmUp(ctx: CellContext, server: CellTarget, sendsMail: boolean, signal: AbortSignal): Promise<MailCounters | null> {
  const s = ctx.scenario;
  ctx.sink.reset();
  if (s.warmup.requests > 0) {
    ctx.onPhase?.(`warm-up: ${s.warmup.requests} sign-ups over ${s.warmup.durationSec} s (not recorded)`);
    const warm = await runOpenLoop({
      baseUrl: server.url,
      count: s.warmup.requests,
      durationMs: s.warmup.durationSec * 1000,
      connection: s.connection,
      timeoutMs: s.timeoutSec * 1000,
      request: (i) => ctx.names.signup('w', i),
      signal,
    });
    const ok = warm.statusCounts['201'] ?? 0;
    // A target the harness cannot look into is done when every warm-up e-mail has arrived; only
    // when some do not is its mail waited for by quiet.
    const arrived = ok > 0 && sendsMail && !server.owned && (await ctx.sink.waitFor(ok, { timeoutMs: Math.min(s.drainTimeoutSec, 30) * 1000 }).then(() => true, () => false));
    if (ok > 0 && sendsMail && !arrived) await drainOwed(ctx.sink, server, ctx.names, new Set(), s.drainTimeoutSec * 1000, sinkLatencyMs(s));
    await ctx.sink.waitForIdle({ quietMs: 300, timeoutMs: 30_000 }).catch(() => {});
  }
  // Also starts the server's event-loop and CPU window afresh for the measurement.
  return (await server.metrics(true))?.emails ?? null;
}

/** The measured open-loop schedule. */
export async function measure(ctx: CellContext, spec: CellSpec, server: CellTarget, window: CellWindow, signal: AbortSignal): Promise<OpenLoopResult> {
  const s = ctx.scenario;
  const share = s.faults.badInput?.share;
  window.setT0(Date.now());
  if (s.engine === 'jmeter') {
    ctx.onPhase?.(`JMeter: ${spec.requests} threads started over ${s.durationSec} s, a request each`);
    const run = await runJMeterCell(s, spec.requests, server.url, ctx.names, signal, (x) => answeredAsMeant(x.i, x.status, share));
    window.setT0(run.t0EpochMs);
    window.endFaults();
    return run;
  }
  const run = await runOpenLoop({
    baseUrl: server.url,
    ...(s.stages ? { stages: s.stages } : { count: spec.requests, durationMs: s.durationSec * 1000 }),
    connection: s.connection,
    timeoutMs: s.timeoutSec * 1000,
    behindThresholdMs: s.behindThresholdMs,
    request: (i) => ctx.names.measured(i, share),
    expected: (x) => answeredAsMeant(x.i, x.status, share),
    onProgress: ctx.onProgress,
    signal,
  });
  window.setT0(run.t0EpochMs);
  window.endFaults();
  return run;
}

/** What the drain left for the accounting: the owed registrations, and what the server said before it stopped. */
interface Drained {
  owed: Set<number>;
  drainTimedOut: boolean;
  counters: MailCounters | null;
  /** GET /mail/failures before the stop; null when the server did not answer it. */
  failures: MailFailure[] | null;
}

/** Waits (bounded) for the owed e-mails, then reads the server's counters and failure report. */
async function drainMail(ctx: CellContext, spec: CellSpec, server: CellTarget, run: OpenLoopResult): Promise<Drained> {
  const s = ctx.scenario;
  const sendsMail = subjectFacts(spec.variant).sendsMail;
  const owed = owedRegistrations(run, s.faults.badInput?.share);
  let drainTimedOut = false;
  if (sendsMail && owed.size > 0) {
    ctx.onPhase?.(`drain: waiting for ${owed.size} owed e-mails (at most ${s.drainTimeoutSec} s)`);
    drainTimedOut = !(await drainOwed(ctx.sink, server, ctx.names, owed, s.drainTimeoutSec * 1000, sinkLatencyMs(s)));
  }
  // A short grace period lets late duplicates show up.
  await new Promise((r) => setTimeout(r, sendsMail ? 500 : 200));
  return { owed, drainTimedOut, counters: (await server.metrics())?.emails ?? null, failures: await server.mailFailures() };
}

/** The failures to account with: the server's report after its drain, else the one read before it stopped. */
function failuresFor(server: CellTarget, drained: Drained, shutdown: ShutdownReport | null) {
  if (shutdown?.failures) return { failures: shutdown.failures, failureReport: 'at-shutdown' as const };
  if (drained.failures) return { failures: drained.failures, failureReport: 'before-stop' as const };
  return { failures: [], failureReport: server.owned ? ('unreadable' as const) : ('none' as const) };
}

/** Accounts for every owed e-mail and for what the faults did. */
function account(
  ctx: CellContext,
  spec: CellSpec,
  server: CellTarget,
  window: CellWindow,
  run: OpenLoopResult,
  drained: Drained & { shutdown: ShutdownReport | null; warmupCounters: MailCounters | null },
  result: CellResult,
): void {
  const s = ctx.scenario;
  const share = s.faults.badInput?.share;
  const sendsMail = subjectFacts(spec.variant).sendsMail;
  // Counters are per process: the warm-up's are subtracted, unless a crash replaced the process.
  const warmup = server.restarted ? null : drained.warmupCounters;
  accountEmails(result.emails, {
    sink: ctx.sink,
    names: ctx.names,
    run,
    owed: drained.owed,
    sendsMail,
    ...failuresFor(server, drained, drained.shutdown),
    shutdown: drained.shutdown,
    counters: drained.counters,
    warmupCounters: warmup,
    drainTimedOut: drained.drainTimedOut,
  });
  const smtpUpAt = window.smtpUpAtEpochMs();
  const lastAcceptance = lastAcceptanceEpochMs(ctx.sink, ctx.names);
  if (s.faults.smtpDown && smtpUpAt !== null && lastAcceptance !== null) {
    window.faultLog.smtpDown = { ...s.faults.smtpDown, recoverySec: round2(Math.max(0, lastAcceptance - smtpUpAt) / 1000) };
  }
  if (share) window.faultLog.badInput = tallyBadInput(run, share);
  if (s.faults.crash || s.faults.smtpDown || s.faults.badInput) result.faults = window.faultLog;
}

function recordFailure(result: CellResult, err: unknown, server: CellTarget): void {
  if (err instanceof ServerStartError) {
    result.error = err.message;
    result.serverStderrTail = err.stderr;
    return;
  }
  result.error = server.failure?.error ?? (err as Error).message;
  result.serverStderrTail = server.failure?.stderrTail ?? server.stderrTail();
}

function tallyBadInput(run: OpenLoopResult, share: number): NonNullable<NonNullable<CellResult['faults']>['badInput']> {
  const byKind: Record<string, { sent: number; expectedStatus: number; answeredAsExpected: number; statusCounts: Record<string, number> }> = {};
  let sent = 0;
  let asExpected = 0;
  for (const x of run.samples) {
    const kind = badInputKind(x.i, share);
    if (!kind) continue;
    sent++;
    const entry = (byKind[kind] ??= { sent: 0, expectedStatus: BAD_INPUT_STATUS[kind], answeredAsExpected: 0, statusCounts: {} });
    entry.sent++;
    const key = x.status === 0 ? (x.error ?? 'error') : String(x.status);
    entry.statusCounts[key] = (entry.statusCounts[key] ?? 0) + 1;
    if (x.status === entry.expectedStatus) {
      entry.answeredAsExpected++;
      asExpected++;
    }
  }
  return { share, sent, answeredAsExpected: asExpected, byKind };
}

function fillFromRun(result: CellResult, run: OpenLoopResult, spec: CellSpec): void {
  result.t0EpochMs = run.t0EpochMs;
  // No expected answer, no latency: a summary of nothing would read as 0 ms.
  result.latencyMs = run.expectedResponses > 0 ? { fromIntended: run.latencyFromIntended, fromSend: run.latencyFromSend } : null;
  result.latencyAllMs = run.samples.length > 0 ? run.latencyAll : null;
  result.expectedResponses = run.expectedResponses;
  result.dispatchErrorMs = run.dispatchError;
  result.generatorBehind = run.generatorBehind;
  result.throughputPerSec = round2(run.throughputPerSec);
  result.responsesPerSec = round2(run.responsesPerSec);
  result.statusCounts = run.statusCounts;
  result.errorCounts = run.errorCounts;
  const replies = replyFigures(run);
  result.accounting.responses2xx = replies.ok;
  result.errors = spec.requests - replies.ok;
  result.timeouts = replies.timeouts;
  result.samples = replies.samples;
}

function emptyResult(ctx: CellContext, spec: CellSpec, startedAt: string): CellResult {
  const s = ctx.scenario;
  return {
    schemaVersion: SCHEMA_VERSION,
    kind: 'cell',
    runId: ctx.runId,
    variant: spec.variant,
    label: spec.label,
    requests: spec.requests,
    repeat: spec.repeat,
    factor: spec.factor,
    status: 'failed',
    error: null,
    serverStderrTail: null,
    startedAt,
    endedAt: startedAt,
    durationSec: s.durationSec,
    offeredRatePerSec: round2(spec.requests / s.durationSec),
    connection: s.connection,
    t0EpochMs: null,
    latencyMs: null,
    latencyAllMs: null,
    expectedResponses: 0,
    dispatchErrorMs: null,
    generatorBehind: false,
    throughputPerSec: 0,
    responsesPerSec: 0,
    statusCounts: {},
    errorCounts: {},
    errors: 0,
    timeouts: 0,
    emails: {
      expected: 0,
      delivered: 0,
      lost: 0,
      abandoned: 0,
      held: 0,
      failureReport: 'none',
      arrivedByAddress: 0,
      arrivedByRegistrationId: 0,
      duplicated: 0,
      failed: 0,
      failedButDeliveredLater: 0,
      deliveredNotOwed: 0,
      retried: 0,
      unattributed: 0,
      rejectedBySink: 0,
      deliveryLagMs: null,
      backlogMax: 0,
      drainSec: null,
      drainTimedOut: false,
      serverCounters: null,
    },
    accounting: { usersInDb: 0, responses2xx: 0, warmupUsers: 0 },
    notChecked: notCheckedFor(ctx, spec.variant),
    faults: null,
    server: { pid: null, series: [], shutdown: null },
    samples: null,
    valid: false,
    reasons: [],
    findings: [],
    thresholds: [],
  };
}
