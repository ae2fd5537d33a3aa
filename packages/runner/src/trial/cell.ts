/**
 * One cell: a fresh API process for one variant and one request count (or an external target),
 * in named phases: start, warm up, measure (with sampling and faults beside it), drain, account,
 * stop, judge.
 */
import type { OpenLoopResult } from '@mailbench/loadgen';
import type { MailCounters, ShutdownReport } from '@mailbench/target-api/contract';
import { accountEmails, lastAcceptanceEpochMs, replyFigures } from './accounting.ts';
import type { CellTarget } from '../targets/cell-server.ts';
import type { CellWindow } from './window.ts';
import { judgeCell } from '../judge/judge.ts';
import { evaluateThresholds } from '../judge/thresholds.ts';
import { BAD_INPUT_STATUS, badInputKind } from '../config/requests.ts';
import { withFactor } from '../config/factors.ts';
import { subjectFacts } from '../config/subjects.ts';
import { round2 } from '../shapes/numbers.ts';
import type { Subject } from '../shapes/scenario.ts';
import { type CellResult, SCHEMA_VERSION } from '../shapes/results.ts';
import { isReference } from '../config/references.ts';
import { measure, runTrial } from './lifecycle.ts';
import { drainMail, type Drained } from './drain.ts';
import { dbNameFor, type CellContext, type CellSpec } from './context.ts';

/** What a cell on an external or reference target cannot see, said in its result (not findings). */
export function notCheckedFor(ctx: Pick<CellContext, 'target'>, variant: Subject): string[] {
  if (isReference(variant))
    return [
      'server metrics, e-mail backlog and failure reports: a reference target has no mailbench /metrics or /mail/failures',
    ];
  if (!ctx.target) return [];
  const out = [
    'server metrics, e-mail backlog and failure reports: the target is not a process the harness started',
  ];
  if (!ctx.target.mongoUri) out.push('stored users: no --target-mongo-uri given');
  return out;
}

export async function runCell(cellCtx: CellContext, spec: CellSpec): Promise<CellResult> {
  const scenario = withFactor(cellCtx.scenario, spec.factor);
  const ctx = { ...cellCtx, scenario, names: cellCtx.names.forCell(String(spec.index)) };
  const trial = await runTrial(ctx, {
    variant: spec.variant,
    dbName: dbNameFor(ctx.runId, `${spec.label}_${spec.requests}_r${spec.repeat}`),
    faults: scenario.faults,
    sample: true,
    load: ({ server, window, signal }) => measure(ctx, spec, server, window, signal),
    settle: ({ server }, run) => drainMail(ctx, spec, server, run),
    // Accounted after the stop: what the server drains while it stops arrives first, and its
    // shutdown report says what it gave up on and what it still stores.
    stopTimeoutMs: scenario.drainTimeoutSec * 1000 + 15_000,
  });
  const result = emptyResult(ctx, spec, trial.startedAt);
  result.server = {
    pid: trial.pid,
    series: trial.series,
    shutdown: trial.shutdown && {
      drained: trial.shutdown.drained,
      abandoned: trial.shutdown.abandoned,
    },
  };
  result.accounting.warmupUsers = trial.warmupUsers ?? 0;
  result.accounting.usersInDb = trial.usersInDb;
  const { load: run, settled, window, server } = trial;
  if (trial.error === null && run && settled && window) {
    try {
      result.emails.backlogMax = server.owned
        ? Math.max(0, ...trial.series.map((p) => p.emailsQueued + p.emailsInFlight))
        : null;
      account(
        ctx,
        spec,
        server,
        window,
        run,
        { ...settled, shutdown: trial.shutdown, warmupCounters: trial.warmupCounters },
        result,
      );
      fillFromRun(result, run, spec);
      result.status = 'ok';
    } catch (err) {
      result.error = (err as Error).message;
    }
  } else {
    result.error = trial.error?.message ?? 'the cell did not finish';
    result.serverStderrTail = trial.error?.stderrTail ?? null;
  }
  result.endedAt = trial.endedAt;
  Object.assign(result, judgeCell(result, ctx.scenario));
  result.thresholds = evaluateThresholds(ctx.scenario.thresholds, result);
  return result;
}

/**
 * The failures to account with: the server's report after its drain, else the one read before it
 * stopped.
 */
function failuresFor(server: CellTarget, drained: Drained, shutdown: ShutdownReport | null) {
  if (shutdown?.failures)
    return { failures: shutdown.failures, failureReport: 'at-shutdown' as const };
  if (drained.failures)
    return { failures: drained.failures, failureReport: 'before-stop' as const };
  return {
    failures: [],
    failureReport: server.owned ? ('unreadable' as const) : ('none' as const),
  };
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
    window.faultLog.smtpDown = {
      ...s.faults.smtpDown,
      recoverySec: round2(Math.max(0, lastAcceptance - smtpUpAt) / 1000),
    };
  }
  if (share) window.faultLog.badInput = tallyBadInput(run, share);
  if (s.faults.crash || s.faults.smtpDown || s.faults.badInput) result.faults = window.faultLog;
}

function tallyBadInput(
  run: OpenLoopResult,
  share: number,
): NonNullable<NonNullable<CellResult['faults']>['badInput']> {
  const byKind: Record<
    string,
    {
      sent: number;
      expectedStatus: number;
      answeredAsExpected: number;
      statusCounts: Record<string, number>;
    }
  > = {};
  let sent = 0;
  let asExpected = 0;
  for (const x of run.samples) {
    const kind = badInputKind(x.i, share);
    if (!kind) continue;
    sent++;
    const entry = (byKind[kind] ??= {
      sent: 0,
      expectedStatus: BAD_INPUT_STATUS[kind],
      answeredAsExpected: 0,
      statusCounts: {},
    });
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
  result.latencyMs =
    run.expectedResponses > 0
      ? { fromIntended: run.latencyFromIntended, fromSend: run.latencyFromSend }
      : null;
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
