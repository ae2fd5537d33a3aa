import type { Collection } from 'mongodb';
import type { Transporter } from 'nodemailer';
import type { MailMessage, Registration } from '../email.ts';
import type { MailCounters } from '../metrics.ts';
import type { AppOptions, Variant } from '../options.ts';

/** What the sign-up handler tells the client about the confirmation e-mail. */
export type EmailStatus = 'none' | 'sent' | 'failed' | 'queued';

export interface ShutdownReport {
  /** E-mails that finished (sent or failed) while draining. */
  drained: number;
  /** E-mails still unsent when the drain timeout ran out (lost for background and worker-pool). */
  abandoned: number;
}

export interface StrategyContext {
  options: AppOptions;
  users: Collection<UserDocument>;
  /** The process-wide transport (one pool), for strategies that send on the main thread. */
  transport: () => Transporter;
  log: (line: string) => void;
}

export interface EmailStrategy {
  readonly variant: Variant;
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
