/**
 * One step of a breaking-point search: a fresh API process, a warm-up, then `rate` sign-ups/s
 * open-loop for the step's window; the replies judged against the SLO and the e-mails counted as
 * they reached the sink by the end of the window plus the sink's typical latency (the least time
 * the last e-mail needs to arrive). No drain: past the e-mail limit the backlog is the result, and
 * it is measured
 * (growth per second from the server's own gauge, size at the deadline), not waited for.
 */
import { summarize, type OpenLoopResult } from '@mailbench/loadgen';
import { subjectFacts } from '../config/subjects.ts';
import { firstAcceptances, owedRegistrations, replyFigures } from '../trial/accounting.ts';
import { latencyMedianMs } from '../config/latency.ts';
import { round2 } from '../shapes/numbers.ts';
import type { Scenario } from '../shapes/scenario.ts';
import {
  SCHEMA_VERSION,
  type ServerSample,
  type StepEmails,
  type StepResult,
} from '../shapes/results.ts';
import { dbNameFor, type CellContext, type CellSpec } from '../trial/context.ts';
import { measure, runTrial } from '../trial/lifecycle.ts';

export interface StepPlan {
  spec: CellSpec;
  step: number;
  phase: 'ladder' | 'bisect';
  /** 1, or 2 and 3 when the step is measured again after a disturbed attempt. */
  attempt?: number;
}

/** Least-squares slope of y over t; null with fewer than three points. */
export function slope(points: Array<{ t: number; y: number }>): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? null : num / den;
}

function mean(values: number[]): number | null {
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

export async function runStep(stepCtx: CellContext, plan: StepPlan): Promise<StepResult> {
  const { spec } = plan;
  const attempt = plan.attempt ?? 1;
  const key = `${spec.index}s${plan.step}${attempt > 1 ? `a${attempt}` : ''}`;
  const ctx = { ...stepCtx, names: stepCtx.names.forCell(key) };
  const s = ctx.scenario;
  const trial = await runTrial(ctx, {
    variant: spec.variant,
    dbName: dbNameFor(ctx.runId, `${spec.label}_r${spec.repeat}_s${plan.step}_a${attempt}`),
    faults: {},
    sample: true,
    load: ({ server, window, signal }) => measure(ctx, spec, server, window, signal),
    // No drain: past the e-mail limit the backlog is the result, read at the mail deadline.
    settle: async ({ server }, run) => {
      const deadline = run.t0EpochMs + s.durationSec * 1000 + mailGraceMs(s);
      if (Date.now() < deadline) await new Promise((r) => setTimeout(r, deadline - Date.now()));
      const m = await server.metrics();
      return { backlogAtDeadline: m ? m.emails.queued + m.emails.inFlight : null };
    },
    // The process goes at once.
    stopTimeoutMs: 2000,
  });
  const result = emptyStep(ctx, plan);
  result.startedAt = trial.startedAt;
  result.series = trial.series;
  const run = trial.load;
  if (trial.error === null && run && trial.settled) {
    fillReplies(result, run);
    fillServer(result, trial.series, s.durationSec);
    if (subjectFacts(spec.variant).sendsMail)
      result.emails = countEmails(
        ctx,
        run,
        trial.series,
        s.durationSec,
        mailGraceMs(s),
        trial.settled.backlogAtDeadline,
      );
    result.status = 'ok';
  } else {
    result.error = trial.error?.message ?? 'the step did not finish';
  }
  result.endedAt = trial.endedAt;
  judgeStep(result, s);
  return result;
}

function fillReplies(result: StepResult, run: OpenLoopResult): void {
  // Of the answers wanted (2xx): a step whose every request failed has no latency, not 0 ms.
  result.latencyMs =
    run.expectedResponses > 0
      ? { fromIntended: run.latencyFromIntended, fromSend: run.latencyFromSend }
      : null;
  result.dispatchErrorMs = run.dispatchError;
  result.statusCounts = run.statusCounts;
  result.errorCounts = run.errorCounts;
  const replies = replyFigures(run);
  result.timeouts = replies.timeouts;
  result.errors = run.count - replies.ok;
  result.throughputPerSec = round2(run.throughputPerSec);
  result.samples = replies.samples;
}

function fillServer(result: StepResult, series: ServerSample[], windowSec: number): void {
  const inWindow = series.filter((p) => p.tSec > 0.5 && p.tSec <= windowSec + 0.5);
  const cpu = mean(inWindow.map((p) => p.cpuPercent));
  result.cpuMsPerRequest =
    cpu === null || result.ratePerSec <= 0
      ? null
      : round2((cpu / 100) * (1000 / result.ratePerSec));
  const inFlight = mean(inWindow.map((p) => p.requestsInFlight));
  result.meanRequestsInFlight = inFlight === null ? null : round2(inFlight);
}

/**
 * The share of the owed e-mails delivered by the deadline; null when nothing was owed (no mail
 * verdict, not a pass).
 */
export function mailShareOf(owed: number, deliveredByDeadline: number): number | null {
  return owed > 0 ? round2(deliveredByDeadline / owed) : null;
}

/** How long after its window a step's e-mails may still arrive: the sink's typical latency. */
export function mailGraceMs(s: Pick<Scenario, 'smtp'>): number {
  return latencyMedianMs(s.smtp.latency);
}

function countEmails(
  ctx: CellContext,
  run: OpenLoopResult,
  series: ServerSample[],
  windowSec: number,
  graceMs: number,
  backlogAtDeadline: number | null,
): StepEmails {
  const owed = owedRegistrations(run, undefined);
  const windowEnd = run.t0EpochMs + windowSec * 1000;
  const deadline = windowEnd + graceMs;
  const half = run.t0EpochMs + (windowSec * 1000) / 2;
  const first = [...firstAcceptances(ctx.sink, ctx.names)].filter(([i]) => owed.has(i));
  let byDeadline = 0;
  let secondHalf = 0;
  const lags: number[] = [];
  for (const [i, at] of first) {
    if (at <= deadline) {
      byDeadline++;
      const sample = run.samples[i];
      if (sample && sample.status !== 0) lags.push(at - (run.t0EpochMs + sample.endMs));
    }
    if (at > half && at <= windowEnd) secondHalf++;
  }
  const backlog = series
    .filter((p) => p.tSec > 0.5 && p.tSec <= windowSec + 0.5)
    .map((p) => ({ t: p.tSec, y: p.emailsQueued + p.emailsInFlight }));
  const growth = slope(backlog);
  const lateBacklog = mean(backlog.filter((p) => p.t > windowSec / 2).map((p) => p.y));
  return {
    owed: owed.size,
    deliveredByDeadline: byDeadline,
    share: mailShareOf(owed.size, byDeadline),
    deadlineSec: round2(windowSec + graceMs / 1000),
    deliveredRatePerSec: round2(secondHalf / (windowSec / 2)),
    backlogAtDeadline,
    backlogGrowthPerSec: growth === null ? null : round2(growth),
    meanBacklog: lateBacklog === null ? null : round2(lateBacklog),
    lagMs: lags.length > 0 ? summarize(lags) : null,
  };
}

/**
 * Pass or fail against the SLO. A late generator only makes latency from intended look worse,
 * so it cannot fake a pass; what it can do is offer less than the step's rate. A step counts as
 * generator-limited when its dispatch error could matter against the SLO (p99 over the
 * scenario's behind threshold or 5 % of the SLO, whichever is larger; a single request over the
 * stall threshold or 25 % of the SLO) and the server showed no failure of its own (errors, or a
 * p99 from send over the SLO, which the generator's lateness is not part of).
 */
export function judgeStep(
  result: StepResult,
  limits: { behindThresholdMs: number; stallThresholdMs: number },
): void {
  const d = result.dispatchErrorMs;
  const l = result.latencyMs;
  const slo = result.slo.p99Ms;
  result.generatorBehind =
    result.status === 'ok' &&
    d !== null &&
    (d.p99 > Math.max(limits.behindThresholdMs, 0.05 * slo) ||
      d.max > Math.max(limits.stallThresholdMs, 0.25 * slo));
  const serverBroke =
    result.status === 'ok' && l !== null && (result.errors > 0 || l.fromSend.p99 > slo);
  result.generatorLimited = result.generatorBehind && !serverBroke;
  result.httpOk =
    result.status === 'ok' &&
    !serverBroke &&
    l !== null &&
    l.fromIntended.p99 <= slo &&
    !result.generatorLimited;
  // Nothing owed (every request failed, say): no mail verdict, not a pass.
  const share = result.emails?.share ?? null;
  result.mailOk =
    result.emails === null || share === null
      ? null
      : result.status === 'ok' && share >= result.slo.mailShare;
}

function emptyStep(ctx: CellContext, plan: StepPlan): StepResult {
  const s = ctx.scenario;
  const now = new Date().toISOString();
  return {
    schemaVersion: SCHEMA_VERSION,
    kind: 'step',
    runId: ctx.runId,
    variant: plan.spec.variant,
    label: plan.spec.label,
    factor: plan.spec.factor,
    step: plan.step,
    attempt: plan.attempt ?? 1,
    repeat: plan.spec.repeat,
    phase: plan.phase,
    ratePerSec: round2(plan.spec.requests / s.durationSec),
    requests: plan.spec.requests,
    durationSec: s.durationSec,
    status: 'failed',
    error: null,
    latencyMs: null,
    dispatchErrorMs: null,
    generatorBehind: false,
    generatorLimited: false,
    errors: 0,
    timeouts: 0,
    statusCounts: {},
    errorCounts: {},
    throughputPerSec: 0,
    emails: null,
    cpuMsPerRequest: null,
    meanRequestsInFlight: null,
    httpOk: false,
    mailOk: null,
    slo: { p99Ms: s.breakingPoint.sloP99Ms, mailShare: s.breakingPoint.mailShare },
    series: [],
    samples: null,
    startedAt: now,
    endedAt: now,
  };
}
