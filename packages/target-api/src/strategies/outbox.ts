/**
 * The durable outbox. The pending e-mail lives in the user document, written by the same
 * insert (atomic without transactions). A dispatcher claims pending e-mails with
 * findOneAndUpdate (a lease), sends, marks them sent; retries temporary failures with capped
 * exponential backoff; marks permanent failures; and takes over claims whose lease expired,
 * which is how e-mails claimed by a crashed process still go out (at least once).
 */
import { randomBytes } from 'node:crypto';
import type { Filter, UpdateFilter, WithId } from 'mongodb';
import { sendWithTimeout, type MailMessage } from '../email.ts';
import { emptyCounters, type EmailStrategy, type StrategyContext, type UserDocument } from './types.ts';

export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export function createOutboxStrategy(ctx: StrategyContext): EmailStrategy {
  const { concurrency, leaseMs, pollMs, maxAttempts, backoffBaseMs, backoffMaxMs } = ctx.options.outbox;
  const users = ctx.users;
  const instanceId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const counters = { ...emptyCounters(), reclaimed: 0 };
  let stopping = false;
  let wake: () => void = () => {};
  let wakeSignal = new Promise<void>((resolve) => {
    wake = resolve;
  });

  function notify(): void {
    const resolve = wake;
    wakeSignal = new Promise<void>((r) => {
      wake = r;
    });
    resolve();
  }

  async function sleepOrWake(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([wakeSignal, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  async function claim(): Promise<WithId<UserDocument> | null> {
    const now = new Date();
    const filter: Filter<UserDocument> = {
      $or: [
        { 'mail.state': 'pending', 'mail.nextAttemptAt': { $lte: now } },
        { 'mail.state': 'sending', 'mail.leaseUntil': { $lt: now } },
      ],
    };
    const update: UpdateFilter<UserDocument> = {
      $set: { 'mail.state': 'sending', 'mail.leaseUntil': new Date(now.getTime() + leaseMs), 'mail.claimedBy': instanceId },
      $inc: { 'mail.attempts': 1 },
    };
    return users.findOneAndUpdate(filter, update, { sort: { 'mail.nextAttemptAt': 1 }, returnDocument: 'before' });
  }

  async function deliver(before: WithId<UserDocument>): Promise<void> {
    const mail = before.mail;
    if (!mail) return;
    if (mail.state === 'sending') counters.reclaimed++;
    const attempt = mail.attempts + 1;
    const mine = { _id: before._id, 'mail.claimedBy': instanceId, 'mail.state': 'sending' } as Filter<UserDocument>;
    counters.inFlight++;
    const outcome = await sendWithTimeout(ctx.transport(), mail.message as MailMessage, ctx.options.smtp.sendTimeoutMs);
    counters.inFlight--;
    if (outcome.ok) {
      counters.sent++;
      await users.updateOne(mine, { $set: { 'mail.state': 'sent', 'mail.sentAt': new Date() }, $unset: { 'mail.leaseUntil': '' } });
      return;
    }
    if (outcome.temporary && attempt < maxAttempts) {
      counters.retried++;
      const next = new Date(Date.now() + backoffMs(attempt, backoffBaseMs, backoffMaxMs));
      await users.updateOne(mine, {
        $set: { 'mail.state': 'pending', 'mail.nextAttemptAt': next, 'mail.lastError': outcome.message },
        $unset: { 'mail.leaseUntil': '' },
      });
      return;
    }
    counters.failed++;
    await users.updateOne(mine, { $set: { 'mail.state': 'failed', 'mail.lastError': outcome.message }, $unset: { 'mail.leaseUntil': '' } });
  }

  async function runSender(): Promise<void> {
    while (!stopping) {
      let doc: WithId<UserDocument> | null = null;
      try {
        doc = await claim();
        if (doc) await deliver(doc);
      } catch (err) {
        if (stopping) return;
        ctx.log(`outbox dispatcher: ${(err as Error).message}`);
        await sleepOrWake(pollMs);
        continue;
      }
      if (!doc) await sleepOrWake(pollMs);
    }
  }

  const senders = Array.from({ length: concurrency }, () => runSender());

  return {
    variant: 'outbox',
    documentFields: (message: MailMessage) => ({
      mail: { state: 'pending', message, attempts: 0, nextAttemptAt: new Date() },
    }),
    async afterSignup() {
      notify();
      return 'queued';
    },
    async counters() {
      const queued = await users.countDocuments({ 'mail.state': 'pending' });
      const { reclaimed: _reclaimed, ...rest } = counters;
      return { ...rest, queued };
    },
    async close() {
      stopping = true;
      const inFlightBefore = counters.inFlight;
      notify();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(senders), new Promise((r) => (timer = setTimeout(r, ctx.options.drainTimeoutMs)))]);
      clearTimeout(timer);
      // Unsent outbox e-mails are not lost: they stay pending (or leased) in the database.
      const left = counters.inFlight;
      return { drained: inFlightBefore - left, abandoned: 0 };
    },
  };
}
