/** What happened to each owed e-mail, from the sink's records and the server's counters. */
import { summarize, type OpenLoopResult } from '@mailbench/loadgen';
import type { SmtpSink } from '@mailbench/smtp-sink';
import type { MailCounters } from '@mailbench/target-api/contract';
import { indexOfRecipient, owedIndex } from './requests.ts';
import type { CellResult } from './results.ts';

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The registrations (request indexes) owed an e-mail: one per 201 (a duplicate's 201 owes its original's). */
export function owedRegistrations(run: OpenLoopResult, badInputShare: number | undefined): Set<number> {
  const owed = new Set<number>();
  for (const x of run.samples) if (x.status === 201) owed.add(owedIndex(x.i, badInputShare));
  return owed;
}

/** Request index → when the sink first accepted its e-mail (epoch ms). */
function firstAcceptances(sink: SmtpSink): Map<number, number> {
  const first = new Map<number, number>();
  for (const r of sink.records()) {
    for (const to of r.recipients) {
      const i = indexOfRecipient(to);
      if (i !== null && !first.has(i)) first.set(i, r.acceptedAtMs);
    }
  }
  return first;
}

export interface MailAccountingInput {
  sink: SmtpSink;
  run: OpenLoopResult;
  owed: Set<number>;
  sendsMail: boolean;
  /** The server's counters now, and at the end of the warm-up (null when a crash replaced the process). */
  counters: MailCounters | null;
  warmupCounters: MailCounters | null;
  drainTimedOut: boolean;
}

/** Fills the cell's e-mail figures: delivered, lost, failed, duplicated, lag, drain time. */
export function accountEmails(emails: CellResult['emails'], input: MailAccountingInput): void {
  const { sink, run, owed, sendsMail, counters, warmupCounters } = input;
  const first = firstAcceptances(sink);
  const lags: number[] = [];
  let deliveredOwed = 0;
  for (const i of owed) {
    const acceptedAt = first.get(i);
    if (acceptedAt === undefined) continue;
    deliveredOwed++;
    const sample = run.samples[i];
    if (sample) lags.push(acceptedAt - (run.t0EpochMs + sample.endMs));
  }
  const since = (key: keyof MailCounters) => Math.max(0, (counters?.[key] ?? 0) - (warmupCounters?.[key] ?? 0));
  const stats = sink.stats();
  emails.expected = sendsMail ? owed.size : 0;
  emails.serverCounters = counters ? { ...counters } : null;
  emails.failed = since('failed');
  emails.retried = since('retried');
  emails.delivered = stats.registrations;
  emails.duplicated = stats.duplicates;
  emails.unattributed = stats.unattributed;
  emails.rejectedBySink = stats.messages.rejected;
  emails.drainTimedOut = input.drainTimedOut;
  // Silently lost: owed, never delivered, and not reported failed by the server.
  emails.lost = sendsMail ? Math.max(0, owed.size - deliveredOwed - emails.failed) : 0;
  emails.deliveryLagMs = lags.length > 0 ? summarize(lags) : null;
  const lastAcceptance = Math.max(...first.values(), Number.NEGATIVE_INFINITY);
  const scheduleEndEpoch = run.t0EpochMs + run.lastEndMs;
  if (!sendsMail) emails.drainSec = 0;
  else emails.drainSec = owed.size > 0 && !input.drainTimedOut ? round2(Math.max(0, lastAcceptance - scheduleEndEpoch) / 1000) : null;
}

/** The epoch ms of the last first-acceptance at the sink, or null when nothing measured arrived. */
export function lastAcceptanceEpochMs(sink: SmtpSink): number | null {
  const last = Math.max(...firstAcceptances(sink).values(), Number.NEGATIVE_INFINITY);
  return Number.isFinite(last) ? last : null;
}
