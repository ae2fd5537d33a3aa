/**
 * What happened to each owed e-mail, per registration: one outcome at the sink (arrived or not)
 * and what the server said of it (reported failed; given up, or still stored, when it shut down)
 * give exactly one of delivered, reported failed, failed-but-delivered-later, abandoned at
 * shutdown, held at shutdown, lost. The six add up to what was owed; duplicates (extra copies),
 * retries and e-mails for sign-ups that owed none are counted beside them.
 */
import { summarize, type OpenLoopResult } from '@mailbench/loadgen';
import type { SmtpSink } from '@mailbench/smtp-sink';
import type { MailCounters, MailFailure, ShutdownReport } from '@mailbench/target-api/contract';
import { owedOf, type SignupNames } from '../config/requests.ts';
import { countTimeouts } from '../judge/timeouts.ts';
import { round2 } from '../shapes/numbers.ts';
import type { CellResult } from '../shapes/results.ts';

/**
 * The registrations (request indexes) owed an e-mail: one per 201 (a duplicate's 201 owes its
 * original's).
 */
export function owedRegistrations(
  run: OpenLoopResult,
  badInputShare: number | undefined,
): Set<number> {
  return owedOf(
    run.samples.map((x) => x.status),
    badInputShare,
  );
}

/** Request index → when the sink first accepted its e-mail (epoch ms); measured sign-ups only. */
export function firstAcceptances(sink: SmtpSink, names: SignupNames): Map<number, number> {
  const first = new Map<number, number>();
  for (const r of sink.records()) {
    for (const to of r.recipients) {
      const i = names.indexOf(to);
      if (i !== null && !first.has(i)) first.set(i, r.acceptedAtMs);
    }
  }
  return first;
}

/**
 * The request indexes of the measured sign-ups among some addresses (warm-up and others left out).
 */
export function indexesOf(addresses: Iterable<string>, names: SignupNames): Set<number> {
  const out = new Set<number>();
  for (const to of addresses) {
    const i = names.indexOf(to);
    if (i !== null) out.add(i);
  }
  return out;
}

/** The request indexes of the measured sign-ups the server reported as failed. */
export function failedIndexes(failures: MailFailure[], names: SignupNames): Set<number> {
  return indexesOf(
    failures.map((f) => f.to),
    names,
  );
}

/** Distinct X-Registration-Id values among the sink's messages to measured sign-ups. */
function registrationIdsAtSink(sink: SmtpSink, names: SignupNames): number {
  const ids = new Set<string>();
  for (const r of sink.records()) {
    if (r.registrationId !== null && r.recipients.some((to) => names.indexOf(to) !== null))
      ids.add(r.registrationId);
  }
  return ids.size;
}

export interface MailAccountingInput {
  sink: SmtpSink;
  names: SignupNames;
  run: OpenLoopResult;
  owed: Set<number>;
  sendsMail: boolean;
  /**
   * What the serving process reported as failed (a process killed by a crash took its reports with
   * it).
   */
  failures: MailFailure[];
  failureReport: CellResult['emails']['failureReport'];
  /** What the server said of its e-mails when it stopped (null: it said nothing). */
  shutdown: ShutdownReport | null;
  /**
   * The server's counters now, and at the end of the warm-up (null when a crash replaced the
   * process).
   */
  counters: MailCounters | null;
  warmupCounters: MailCounters | null;
  drainTimedOut: boolean;
}

/**
 * What the server reported of the measured sign-ups: failed, and given up or still stored at
 * shutdown.
 */
interface ServerSaid {
  failed: Set<number>;
  abandoned: Set<number>;
  held: Set<number>;
}

/** The six disjoint outcomes of the owed e-mails, and the delivery lag of those that arrived. */
function classify(
  owed: Set<number>,
  arrived: Map<number, number>,
  said: ServerSaid,
  run: OpenLoopResult,
) {
  const outcome = {
    delivered: 0,
    failed: 0,
    failedButDeliveredLater: 0,
    abandoned: 0,
    held: 0,
    lost: 0,
  };
  let abandonedButArrived = 0;
  const lags: number[] = [];
  for (const i of owed) {
    const acceptedAt = arrived.get(i);
    if (acceptedAt !== undefined) {
      if (said.failed.has(i)) outcome.failedButDeliveredLater++;
      else outcome.delivered++;
      if (said.abandoned.has(i)) abandonedButArrived++;
      const sample = run.samples[i];
      if (sample) lags.push(acceptedAt - (run.t0EpochMs + sample.endMs));
    } else if (said.failed.has(i)) outcome.failed++;
    else if (said.abandoned.has(i)) outcome.abandoned++;
    else if (said.held.has(i)) outcome.held++;
    else outcome.lost++;
  }
  return { outcome, lags, abandonedButArrived };
}

/** Fills the cell's e-mail figures from the sink's records and the server's reports. */
export function accountEmails(emails: CellResult['emails'], input: MailAccountingInput): void {
  const { sink, names, run, owed, sendsMail, counters, warmupCounters } = input;
  const arrived = firstAcceptances(sink, names);
  const owedNow = sendsMail ? owed : new Set<number>();
  const said: ServerSaid = {
    failed: failedIndexes(input.failures, names),
    abandoned: indexesOf(input.shutdown?.abandonedTo ?? [], names),
    held: indexesOf(input.shutdown?.heldTo ?? [], names),
  };
  const { outcome, lags, abandonedButArrived } = classify(owedNow, arrived, said, run);
  const since = (key: keyof MailCounters) =>
    Math.max(0, (counters?.[key] ?? 0) - (warmupCounters?.[key] ?? 0));
  const stats = sink.stats();
  emails.expected = owedNow.size;
  Object.assign(emails, outcome);
  emails.abandonedButArrived = abandonedButArrived;
  emails.deliveredNotOwed = [...arrived.keys()].filter((i) => !owedNow.has(i)).length;
  emails.failureReport = input.failureReport;
  emails.arrivedByAddress = arrived.size;
  emails.arrivedByRegistrationId = registrationIdsAtSink(sink, names);
  emails.serverCounters = counters ? { ...counters } : null;
  emails.retried = since('retried');
  emails.duplicated = stats.duplicates;
  emails.unattributed = stats.unattributed;
  emails.rejectedBySink = stats.messages.rejected;
  emails.drainTimedOut = input.drainTimedOut;
  emails.deliveryLagMs = lags.length > 0 ? summarize(lags) : null;
  const lastAcceptance = Math.max(...arrived.values(), Number.NEGATIVE_INFINITY);
  const scheduleEndEpoch = run.t0EpochMs + run.lastEndMs;
  if (!sendsMail) emails.drainSec = 0;
  else
    emails.drainSec =
      owed.size > 0 && !input.drainTimedOut
        ? round2(Math.max(0, lastAcceptance - scheduleEndEpoch) / 1000)
        : null;
}

/** The epoch ms of the last first-acceptance at the sink, or null when nothing measured arrived. */
export function lastAcceptanceEpochMs(sink: SmtpSink, names: SignupNames): number | null {
  const last = Math.max(...firstAcceptances(sink, names).values(), Number.NEGATIVE_INFINITY);
  return Number.isFinite(last) ? last : null;
}

/**
 * What every measured schedule records of its replies: 2xx count, timeouts, and the samples as
 * columns.
 */
export function replyFigures(run: OpenLoopResult) {
  const ok = Object.entries(run.statusCounts)
    .filter(([code]) => code.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0);
  return {
    ok,
    timeouts: countTimeouts(run.errorCounts),
    samples: {
      intendedMs: run.samples.map((x) => round2(x.intendedMs)),
      sentMs: run.samples.map((x) => round2(x.sentMs)),
      headersMs: run.samples.map((x) =>
        x.headersMs === null || x.headersMs === undefined ? null : round2(x.headersMs),
      ),
      endMs: run.samples.map((x) => round2(x.endMs)),
      status: run.samples.map((x) => x.status),
      error: run.samples.map((x) => x.error),
      bytes: run.samples.map((x) => x.bytes),
    },
  };
}
