import type { Collection, Db } from 'mongodb';
import type { MailCounters, MailFailure, ShutdownReport } from '../contract/messages.ts';
import type { AppOptions } from '../contract/options.ts';
import type { MailMessage, Registration, SendOutcome } from '../email.ts';
import type { MailQueue } from '../mail-queue.ts';

/** What the sign-up handler tells the client about the confirmation e-mail. */
export type EmailStatus = 'none' | 'sent' | 'failed' | 'queued';

export type { ShutdownReport };

export interface StrategyContext {
  options: AppOptions;
  users: Collection<UserDocument>;
  /** The API's database (the Agenda variant keeps its jobs there). */
  db: Db;
  /** The process-wide transport behind its gate, for strategies that send on the main thread. */
  mail: MailQueue;
  log: (line: string) => void;
}

export interface EmailStrategy {
  /** Extra fields of the user document written at sign-up (the outbox's pending e-mail). */
  documentFields(message: MailMessage): Partial<UserDocument>;
  /** Runs after the user is stored; the handler replies when this resolves. */
  afterSignup(registration: Registration, message: MailMessage): Promise<EmailStatus>;
  counters(): Promise<MailCounters>;
  /** Every e-mail this process gave up on, by registration. */
  failures(): Promise<MailFailure[]>;
  /** Stops taking work, drains what is in flight up to the drain timeout, reports. */
  close(): Promise<ShutdownReport>;
}

export interface OutboxState {
  state: 'pending' | 'sending' | 'sent' | 'failed';
  message: MailMessage;
  attempts: number;
  nextAttemptAt: Date;
  leaseUntil?: Date;
  claimedBy?: string;
  /** The current claim's own token: only its holder may renew it or record the outcome. */
  claim?: string;
  sentAt?: Date;
  lastError?: string;
}

export interface UserDocument {
  username: string;
  email: string;
  passwordHash: string;
  createdAt: Date;
  confirmToken: string;
  confirmedAt: Date | null;
  mail?: OutboxState;
}

/** What a job queue's send job carries: whom it owes (for the failure report) and the message. */
export interface SendJobData {
  registration: Pick<Registration, 'id' | 'email'>;
  message: MailMessage;
}

export function emptyCounters(): MailCounters {
  return { queued: 0, inFlight: 0, sent: 0, failed: 0, retried: 0, abandoned: 0 };
}

/** Waits for promises to settle, up to a timeout. */
export async function drainWithTimeout(
  pending: Iterable<Promise<unknown>>,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.allSettled([...pending]), timedOut]);
  clearTimeout(timer);
}

/** Counts an outcome, and keeps the registration of a failed one for /mail/failures. */
export function createOutcomeLog() {
  const counters = emptyCounters();
  const failures: MailFailure[] = [];
  return {
    counters,
    failures,
    record(registration: Registration, outcome: SendOutcome): void {
      if (outcome.ok) {
        counters.sent++;
        return;
      }
      counters.failed++;
      failures.push({
        id: registration.id,
        to: registration.email,
        reason: outcome.message,
        cancelled: outcome.cancelled,
      });
    },
  };
}

/**
 * In-flight sends of a strategy that replies first and sends afterwards: counts them and their
 * outcomes; on shutdown drains them (and the gate, when the sends go through one) up to the
 * timeout, counting what is left as abandoned.
 */
export function createSendTracker(drainTimeoutMs: number, gate?: MailQueue) {
  const log = createOutcomeLog();
  /** Each unfinished send, with whom it is for. */
  const pending = new Map<Promise<unknown>, Registration>();
  let closing = false;
  let drained = false;
  const unfinished = () => Math.max(pending.size, gate ? gate.queued + gate.inFlight : 0);
  return {
    counters: log.counters,
    failures: log.failures,
    /** Starts a send and tracks it; after shutdown began it is refused and counted as abandoned. */
    track(registration: Registration, send: () => Promise<SendOutcome>): 'queued' | 'failed' {
      if (closing) {
        log.counters.abandoned++;
        return 'failed';
      }
      log.counters.inFlight++;
      const tracked: Promise<void> = send()
        .then(
          (outcome) => log.record(registration, outcome),
          (err: Error) => {
            // A rejection after the drain is a send that never ran: it is already counted as
            // abandoned.
            if (!drained)
              log.record(registration, {
                ok: false,
                temporary: true,
                code: null,
                message: err.message,
                cancelled: false,
              });
          },
        )
        .finally(() => {
          pending.delete(tracked);
          log.counters.inFlight--;
        });
      pending.set(tracked, registration);
      return 'queued';
    },
    async drain(): Promise<ShutdownReport> {
      closing = true;
      const deadline = Date.now() + drainTimeoutMs;
      const before = unfinished();
      await drainWithTimeout(pending.keys(), drainTimeoutMs);
      if (gate) await gate.idle(Math.max(0, deadline - Date.now()));
      const left = unfinished();
      log.counters.abandoned += left;
      drained = true;
      const abandonedTo = new Set([...pending.values()].map((r) => r.email));
      for (const to of gate?.pendingRecipients() ?? []) abandonedTo.add(to);
      return { drained: before - left, abandoned: left, abandonedTo: [...abandonedTo] };
    },
  };
}
