/**
 * The gate in front of a transport: at most `slots` messages are handed to it at once (its
 * connections), the rest wait here, in order. A send whose deadline passes while it waits is
 * cancelled for real: it never reaches the transport. One whose deadline passes inside the
 * transport is reported failed, but the SMTP transaction may still complete; it stays counted
 * in flight until the transport settles, so the backlog never hides it.
 */
import type { Transporter } from 'nodemailer';
import type { SmtpOptions } from './contract/options.ts';
import type { MailMessage, SendOutcome } from './email.ts';
import { outcomeOfError } from './email.ts';

interface Waiting {
  start(): void;
}

export interface SendOptions {
  /** Resolve only once the transport has settled (the outcome still says the deadline passed). */
  waitForTransport?: boolean;
}

export class MailQueue {
  private readonly waiting: Waiting[] = [];
  /** Every message waiting or in the transport, until it settles or is cancelled. */
  private readonly unsettled = new Set<MailMessage>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly transport: () => Transporter;
  private readonly slots: number;
  private readonly timeoutMs: number;

  constructor(transport: () => Transporter, slots: number, timeoutMs: number) {
    this.transport = transport;
    this.slots = slots;
    this.timeoutMs = timeoutMs;
  }

  /** Waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Handed to the transport and not settled yet. */
  get inFlight(): number {
    return this.active;
  }

  /** Whom the messages still waiting or in the transport are for (one address per message). */
  pendingRecipients(): string[] {
    return [...this.unsettled].map((m) => String(m.to));
  }

  send(message: MailMessage, options: SendOptions = {}): Promise<SendOutcome> {
    this.unsettled.add(message);
    return new Promise<SendOutcome>((resolve) => {
      let outcome: SendOutcome | null = null;
      const decide = (o: SendOutcome, transportDone: boolean) => {
        outcome ??= o;
        if (!options.waitForTransport || transportDone) resolve(outcome);
      };
      const entry: Waiting = {
        start: () => {
          this.active++;
          this.transport()
            .sendMail(message)
            .then((): SendOutcome => ({ ok: true }), outcomeOfError)
            .then((o) => {
              clearTimeout(timer);
              this.active--;
              this.unsettled.delete(message);
              decide(o, true);
              this.next();
            });
        },
      };
      const timer = setTimeout(() => {
        const k = this.waiting.indexOf(entry);
        if (k >= 0) {
          this.waiting.splice(k, 1);
          this.unsettled.delete(message);
          decide(
            {
              ok: false,
              temporary: true,
              code: null,
              cancelled: true,
              message: `send timed out after ${this.timeoutMs} ms waiting for a connection: cancelled, never sent`,
            },
            true,
          );
          this.notifyIdle();
        } else {
          decide(
            {
              ok: false,
              temporary: true,
              code: null,
              cancelled: false,
              message: `send timed out after ${this.timeoutMs} ms in the SMTP transaction, which may still complete`,
            },
            false,
          );
        }
      }, this.timeoutMs);
      this.waiting.push(entry);
      this.next();
    });
  }

  /**
   * Waits until nothing waits and nothing is in the transport, up to timeoutMs; returns how many
   * are left.
   */
  async idle(timeoutMs: number): Promise<number> {
    if (this.queued + this.inFlight === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    return this.queued + this.inFlight;
  }

  private next(): void {
    while (this.active < this.slots && this.waiting.length > 0) this.waiting.shift()?.start();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.queued + this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * The gate for a transport: as many sends at once as a pooled transport has connections (a
 * per-message one opens as many as asked).
 */
export function createMailQueue(smtp: SmtpOptions, transport: () => Transporter): MailQueue {
  const slots = smtp.transport === 'pooled' ? smtp.maxConnections : Number.POSITIVE_INFINITY;
  return new MailQueue(transport, slots, smtp.sendTimeoutMs);
}
