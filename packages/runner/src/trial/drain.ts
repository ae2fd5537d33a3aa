/**
 * The end of a trial's load: waiting, bounded, for the e-mails it owes, and what the server says
 * of its mail before it is stopped.
 */
import type { OpenLoopResult } from '@mailbench/loadgen';
import type { SmtpSink } from '@mailbench/smtp-sink';
import type { MailCounters, MailFailure } from '@mailbench/target-api/contract';
import type { SignupNames } from '../config/requests.ts';
import type { CellTarget } from '../targets/cell-server.ts';
import { failedIndexes, firstAcceptances, owedRegistrations } from './accounting.ts';
import type { CellContext, CellSpec } from './context.ts';
import { latencyMedianMs } from '../config/latency.ts';
import type { Scenario } from '../shapes/scenario.ts';
import { subjectFacts } from '../config/subjects.ts';

/** How long an external target's mail must stay quiet before the missing e-mails count as lost. */
export const EXTERNAL_QUIET_MS = 5000;

/**
 * Waits, bounded, until every owed registration has arrived or been reported failed, or until
 * it is clear the rest will not come: the harness's own server holds no e-mail (none queued,
 * none in a transport) and the sink has none in progress, for a second; for an external target,
 * whose backlog the harness cannot see, the sink has accepted nothing new for
 * max(EXTERNAL_QUIET_MS, 3 × the sink's median latency). False on timeout.
 */
export async function drainOwed(
  sink: SmtpSink,
  target: CellTarget,
  names: SignupNames,
  owed: Set<number>,
  timeoutMs: number,
  sinkLatencyMs = 0,
): Promise<boolean> {
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
      idle =
        m !== null && m.emails.queued === 0 && m.emails.inFlight === 0 && stats.inProgress === 0;
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
export function sinkLatencyMs(s: Scenario): number {
  return Math.max(0, latencyMedianMs(s.smtp.latency));
}

/**
 * What the drain left for the accounting: the owed registrations, and what the server said before
 * it stopped.
 */
export interface Drained {
  owed: Set<number>;
  drainTimedOut: boolean;
  counters: MailCounters | null;
  /** GET /mail/failures before the stop; null when the server did not answer it. */
  failures: MailFailure[] | null;
}

/** Waits (bounded) for the owed e-mails, then reads the server's counters and failure report. */
export async function drainMail(
  ctx: CellContext,
  spec: CellSpec,
  server: CellTarget,
  run: OpenLoopResult,
): Promise<Drained> {
  const s = ctx.scenario;
  const sendsMail = subjectFacts(spec.variant).sendsMail;
  const owed = owedRegistrations(run, s.faults.badInput?.share);
  let drainTimedOut = false;
  if (sendsMail && owed.size > 0) {
    ctx.onPhase?.(`drain: waiting for ${owed.size} owed e-mails (at most ${s.drainTimeoutSec} s)`);
    drainTimedOut = !(await drainOwed(
      ctx.sink,
      server,
      ctx.names,
      owed,
      s.drainTimeoutSec * 1000,
      sinkLatencyMs(s),
    ));
  }
  // A short grace period lets late duplicates show up.
  await new Promise((r) => setTimeout(r, sendsMail ? 500 : 200));
  return {
    owed,
    drainTimedOut,
    counters: (await server.metrics())?.emails ?? null,
    failures: await server.mailFailures(),
  };
}
