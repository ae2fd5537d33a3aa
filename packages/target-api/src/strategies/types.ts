import type { Collection } from 'mongodb';
import type { Transporter } from 'nodemailer';
import type { MailMessage, Registration, SendOutcome } from '../email.ts';
import type { MailCounters, ShutdownReport } from '../contract/messages.ts';
import type { AppOptions } from '../contract/options.ts';

/** What the sign-up handler tells the client about the confirmation e-mail. */
export type EmailStatus = 'none' | 'sent' | 'failed' | 'queued';

export interface StrategyContext {
  options: AppOptions;
  users: Collection<UserDocument>;
  /** The process-wide transport (one pool), for strategies that send on the main thread. */
  transport: () => Transporter;
  log: (line: string) => void;
}

export type { ShutdownReport };

export interface EmailStrategy {
  /** Extra fields of the user document written at sign-up (the outbox's pending e-mail). */
  documentFields(message: MailMessage): Partial<UserDocument>;
  /** Runs after the user is stored; the handler replies when this resolves. */
  afterSignup(registration: Registration, message: MailMessage): Promise<EmailStatus>;
  counters(): Promise<MailCounters>;
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

export function emptyCounters(): MailCounters {
  return { queued: 0, inFlight: 0, sent: 0, failed: 0, retried: 0, abandoned: 0 };
}

/** Waits for a set of promises to settle, up to a timeout; returns how many were left. */
export async function drainWithTimeout(pending: Set<Promise<unknown>>, timeoutMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.allSettled([...pending]), timedOut]);
  clearTimeout(timer);
  return pending.size;
}

/**
 * In-flight sends of a strategy that replies first and sends afterwards: counts them, and on
 * shutdown drains them up to the timeout, counting what is left as abandoned.
 */
export function createSendTracker(drainTimeoutMs: number) {
  const counters = emptyCounters();
  const pending = new Set<Promise<unknown>>();
  let closing = false;
  let drained = false;
  return {
    counters,
    /** Starts a send and tracks it; after shutdown began it is refused and counted as abandoned. */
    track(send: () => Promise<SendOutcome>): 'queued' | 'failed' {
      if (closing) {
        counters.abandoned++;
        return 'failed';
      }
      counters.inFlight++;
      const tracked: Promise<void> = send()
        .then(
          (outcome) => {
            if (outcome.ok) counters.sent++;
            else counters.failed++;
          },
          () => {
            // A rejection after the drain is a send that never ran: it is already counted as abandoned.
            if (!drained) counters.failed++;
          },
        )
        .finally(() => {
          pending.delete(tracked);
          counters.inFlight--;
        });
      pending.add(tracked);
      return 'queued';
    },
    async drain(): Promise<ShutdownReport> {
      closing = true;
      const before = pending.size;
      const left = await drainWithTimeout(pending, drainTimeoutMs);
      counters.abandoned += left;
      drained = true;
      return { drained: before - left, abandoned: left };
    },
  };
}
