/**
 * The closed-form model beside a breaking-point search, and its checks against the measurement.
 * With c SMTP connections and sink latency L, e-mail leaves at most at μ = c/L per second; an
 * offered rate λ above it grows the backlog by λ − μ per second, and inline's replies wait in
 * that queue: (λ − μ)/μ · t at time t, T(λ − μ)/(2μ) on average over a window T. The HTTP limit
 * of a CPU-bound API is cores / CPU per request (measured at the lowest step). Little's law ties
 * the mean number in a system to its rate and its mean time there. A difference over 20 % is
 * flagged and explained, not hidden.
 */
import { subjectFacts } from '../config/subjects.ts';
import { round2 } from '../shapes/numbers.ts';
import type { Subject } from '../shapes/scenario.ts';
import type { StepResult } from '../shapes/results.ts';
import type { ModelCheck, Prediction } from '../shapes/run.ts';

export const MODEL_TOLERANCE = 0.2;

/**
 * inline's HTTP limit over a window T: past μ its replies wait (λ − μ)/μ · t at time t, so the
 * p99 (reached near the end of the window) stays within the SLO while base + (λ − μ)/μ · T ≤ SLO:
 * λ ≤ μ · (1 + (SLO − base) / T). The limit of a step is a property of its length too.
 */
export function inlineHttpLimit(
  mu: number,
  baseMs: number,
  sloMs: number,
  windowSec: number,
): number {
  return mu * (1 + Math.max(0, sloMs - baseMs) / (windowSec * 1000));
}

/** The lowest step that ran and met the SLO (and `also`): the model's unloaded reference. */
export function baseStep(
  steps: StepResult[],
  also: (s: StepResult) => boolean = () => true,
): StepResult | undefined {
  return steps
    .filter((s) => s.status === 'ok' && s.httpOk && also(s))
    .sort((a, b) => a.ratePerSec - b.ratePerSec)[0];
}

export function predict(
  variant: Subject,
  steps: StepResult[],
  input: { connections: number | null; latencyMs: number; cores: number },
): Prediction {
  const mailRate =
    subjectFacts(variant).sendsMail && input.connections !== null && input.latencyMs > 0
      ? (input.connections * 1000) / input.latencyMs
      : null;
  const base = baseStep(steps, (s) => s.cpuMsPerRequest !== null);
  const cpuMs = base?.cpuMsPerRequest ?? null;
  const cpuRate = cpuMs && cpuMs > 0 ? (input.cores * 1000) / cpuMs : null;
  const smtpBound =
    subjectFacts(variant).repliesAfterSend && mailRate !== null && base?.latencyMs
      ? inlineHttpLimit(mailRate, base.latencyMs.fromIntended.p50, base.slo.p99Ms, base.durationSec)
      : null;
  const httpRate =
    smtpBound !== null ? (cpuRate === null ? smtpBound : Math.min(smtpBound, cpuRate)) : cpuRate;
  return {
    ...input,
    mailRatePerSec: mailRate === null ? null : round2(mailRate),
    cpuMsPerRequest: cpuMs,
    cpuRatePerSec: cpuRate === null ? null : round2(cpuRate),
    httpRatePerSec: httpRate === null ? null : round2(httpRate),
  };
}

function check(
  what: string,
  ratePerSec: number | null,
  predicted: number,
  measured: number,
  why: () => string,
  floor = 0,
): ModelCheck {
  const scale = Math.max(Math.abs(predicted), floor);
  const diff = scale === 0 ? 0 : (measured - predicted) / scale;
  const flagged = Math.abs(diff) > MODEL_TOLERANCE;
  return {
    what,
    ratePerSec,
    predicted: round2(predicted),
    measured: round2(measured),
    differencePct: Math.round(diff * 1000) / 10,
    flagged,
    explanation: flagged ? why() : null,
  };
}

/** Whole-search checks: the limits against the model. */
export function limitChecks(
  p: Prediction,
  http: number | null,
  mail: number | null,
  variant: Subject,
): ModelCheck[] {
  const out: ModelCheck[] = [];
  if (mail !== null && p.mailRatePerSec !== null) {
    out.push(
      check('e-mail limit vs c/L', null, p.mailRatePerSec, mail, () =>
        mail > p.mailRatePerSec!
          ? 'a step passes while 95 % of its e-mails arrive within the window plus the SLO, so the measured limit sits up to ~5 % (plus the grace) above c/L; more means the sink answered faster than L'
          : 'each message costs more than L: the SMTP exchange (MAIL, RCPT, DATA) and the hand-off to the transport add their own time, and a pooled connection is reopened every maxMessages messages',
      ),
    );
  }
  if (http !== null && p.httpRatePerSec !== null) {
    const smtpBound =
      subjectFacts(variant).repliesAfterSend &&
      p.mailRatePerSec !== null &&
      p.httpRatePerSec !== p.cpuRatePerSec;
    out.push(
      check(
        smtpBound
          ? 'HTTP limit vs c/L · (1 + (SLO − base)/T) (inline waits for SMTP)'
          : 'HTTP limit vs cores / CPU per request',
        null,
        p.httpRatePerSec,
        http,
        () =>
          http < p.httpRatePerSec!
            ? 'the model gives the API every core, but the load generator, the SMTP sink and the database share them on this machine; and the SLO breaks before 100 % utilisation, where queueing already lengthens the p99'
            : 'CPU per request measured at the lowest rate includes fixed costs (sampling, timers, idle connections) that do not grow with the rate, so it overstates the cost at high rates',
      ),
    );
  }
  return out;
}

/**
 * 201s per second answered within the step's window (replies after it belong to its tail); null
 * without samples.
 */
export function acceptedInWindowPerSec(
  step: Pick<StepResult, 'samples' | 'durationSec'>,
): number | null {
  if (!step.samples) return null;
  const windowMs = step.durationSec * 1000;
  let n = 0;
  step.samples.status.forEach((status, k) => {
    if (status === 201 && (step.samples!.endMs[k] ?? Infinity) <= windowMs) n++;
  });
  return n / step.durationSec;
}

/** Per-step checks: backlog growth, inline's queueing delay, Little's law. */
export function stepChecks(
  step: StepResult,
  p: Prediction,
  baseMeanMs: number | null,
): ModelCheck[] {
  if (step.status !== 'ok' || step.generatorLimited || !step.latencyMs) return [];
  const out: ModelCheck[] = [];
  const lambda = step.ratePerSec;
  const mu = p.mailRatePerSec;
  const e = step.emails;
  if (e && mu !== null && e.backlogGrowthPerSec !== null) {
    // E-mail is owed for sign-ups the server accepted: past its CPU limit that is fewer than
    // offered.
    // A variant that replies after the send queues every arrival for a connection, answered or not.
    const accepted = subjectFacts(step.variant).repliesAfterSend
      ? lambda
      : Math.min(lambda, acceptedInWindowPerSec(step) ?? step.throughputPerSec);
    const predicted = Math.max(0, accepted - mu);
    if (predicted > 1 || e.backlogGrowthPerSec > 1) {
      out.push(
        check(
          'backlog growth (accepted rate − c/L per s)',
          lambda,
          predicted,
          e.backlogGrowthPerSec,
          () =>
            !step.httpOk && (e.backlogGrowthPerSec ?? 0) < predicted
              ? 'past the HTTP limit sign-ups wait in the server before they are stored and their e-mail queued, so the queue fills later and slower than the arrivals (and than the replies, which come in a burst after the window)'
              : 'the server reports its backlog once a second and the first seconds fill the connections before a queue forms; a slope over a short window is noisy',
          1,
        ),
      );
    }
  }
  if (
    subjectFacts(step.variant).repliesAfterSend &&
    mu !== null &&
    lambda > mu * 1.05 &&
    baseMeanMs !== null
  ) {
    const queueMs = ((lambda - mu) / mu) * ((step.durationSec * 1000) / 2);
    out.push(
      check(
        'inline mean latency (base + T(λ − μ)/2μ)',
        lambda,
        baseMeanMs + queueMs,
        step.latencyMs.fromIntended.mean,
        () =>
          'replies that hit the send deadline leave the queue early (answered "failed"), and the queue keeps growing after the window while the last requests wait',
        100,
      ),
    );
  }
  if (step.meanRequestsInFlight !== null && step.throughputPerSec > 0) {
    const predicted = (step.throughputPerSec * step.latencyMs.fromSend.mean) / 1000;
    // Below two in flight, twenty once-a-second samples of the gauge cannot estimate the mean.
    if (predicted >= 2 || step.meanRequestsInFlight >= 2) {
      out.push(
        check(
          "Little's law, requests (throughput × mean latency = mean in flight)",
          lambda,
          predicted,
          step.meanRequestsInFlight,
          () =>
            !step.httpOk
              ? 'the requests queued through the step (not a steady state): the last ones were still in flight after the window, in the latency but not in the window’s samples of the gauge'
              : 'the server samples its gauge once a second; the client-side latency also includes the connection and the loopback, which the server does not see',
        ),
      );
    }
  }
  // Little's law holds for a steady state: a backlog growing through the step has no mean to check.
  const steady =
    e?.backlogGrowthPerSec !== null &&
    e?.backlogGrowthPerSec !== undefined &&
    Math.abs(e.backlogGrowthPerSec) <= 1;
  if (
    e &&
    steady &&
    subjectFacts(step.variant).sendsMail &&
    !subjectFacts(step.variant).repliesAfterSend &&
    e.meanBacklog !== null &&
    e.lagMs &&
    e.deliveredRatePerSec > 0
  ) {
    const predicted = (e.deliveredRatePerSec * e.lagMs.mean) / 1000;
    out.push(
      check(
        "Little's law, e-mail (delivery rate × mean lag = mean backlog)",
        lambda,
        predicted,
        e.meanBacklog,
        () =>
          'the lag is measured from the reply, the backlog from the enqueue; with a small backlog the once-a-second gauge is coarse',
        1,
      ),
    );
  }
  return out;
}
