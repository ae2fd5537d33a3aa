/**
 * The durable outbox. The pending e-mail lives in the user document, written by the same
 * insert (atomic without transactions). A dispatcher claims pending e-mails with
 * findOneAndUpdate (a lease), sends, marks them sent; retries temporary failures with capped
 * exponential backoff; marks permanent failures; and takes over claims whose lease expired,
 * which is how e-mails claimed by a crashed process still go out (at least once).
 * Each claim carries a token of its own (fencing): its sender renews the lease while the send
 * runs, however long that takes, and records the outcome only while the claim is still its own,
 * so a slow send is never taken over by a sibling, and a stale sender never overwrites a newer
 * claim.
 */
import { randomBytes } from 'node:crypto';
import type { Collection, Filter, IndexDescription, UpdateFilter, WithId } from 'mongodb';
import type { OutboxOptions } from '../contract/options.ts';
import type { MailFailure } from '../contract/messages.ts';
import type { MailMessage } from '../email.ts';
import {
  emptyCounters,
  type EmailStrategy,
  type StrategyContext,
  type UserDocument,
} from './types.ts';

/** The dispatcher's claim query: pending e-mails by due time. */
export const OUTBOX_INDEXES: IndexDescription[] = [
  { key: { 'mail.state': 1, 'mail.nextAttemptAt': 1 }, name: 'mail.state_1_mail.nextAttemptAt_1' },
];

export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** A wake-up that sign-ups ring, and a sleep that ends at the first ring or after a timeout. */
function createWakeSignal() {
  let wake: () => void = () => {};
  let signal = new Promise<void>((resolve) => (wake = resolve));
  return {
    notify(): void {
      const resolve = wake;
      signal = new Promise<void>((r) => (wake = r));
      resolve();
    },
    async sleepOrWake(ms: number): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        signal,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
      ]);
      clearTimeout(timer);
    },
  };
}

/**
 * Claims the next due e-mail, or one whose lease expired, under `token`; returns the document as it
 * was before.
 */
function claimNext(
  users: Collection<UserDocument>,
  instanceId: string,
  token: string,
  leaseMs: number,
): Promise<WithId<UserDocument> | null> {
  const now = new Date();
  const filter: Filter<UserDocument> = {
    $or: [
      { 'mail.state': 'pending', 'mail.nextAttemptAt': { $lte: now } },
      { 'mail.state': 'sending', 'mail.leaseUntil': { $lt: now } },
    ],
  };
  const update: UpdateFilter<UserDocument> = {
    $set: {
      'mail.state': 'sending',
      'mail.leaseUntil': new Date(now.getTime() + leaseMs),
      'mail.claimedBy': instanceId,
      'mail.claim': token,
    },
    $inc: { 'mail.attempts': 1 },
  };
  return users.findOneAndUpdate(filter, update, {
    sort: { 'mail.nextAttemptAt': 1 },
    returnDocument: 'before',
  });
}

type OutboxCounters = ReturnType<typeof emptyCounters> & { reclaimed: number; fencedOff: number };

/** Keeps a claim's lease ahead of the clock while its send runs; stop() ends the renewals. */
function renewWhileSending(
  ctx: StrategyContext,
  mine: Filter<UserDocument>,
  leaseMs: number,
): { stop(): void } {
  const timer = setInterval(
    () => {
      const leaseUntil = new Date(Date.now() + leaseMs);
      ctx.users.updateOne(mine, { $set: { 'mail.leaseUntil': leaseUntil } }).catch(() => {});
    },
    Math.max(20, Math.floor(leaseMs / 3)),
  );
  return { stop: () => clearInterval(timer) };
}

/**
 * Sends one claimed e-mail and records the outcome: sent, pending again with backoff, or failed.
 */
async function deliver(
  ctx: StrategyContext,
  counters: OutboxCounters,
  token: string,
  before: WithId<UserDocument>,
): Promise<void> {
  const mail = before.mail;
  if (!mail) return;
  const { maxAttempts, backoffBaseMs, backoffMaxMs, leaseMs }: OutboxOptions = ctx.options.outbox;
  if (mail.state === 'sending') counters.reclaimed++;
  const attempt = mail.attempts + 1;
  const mine = { _id: before._id, 'mail.claim': token } as Filter<UserDocument>;
  counters.inFlight++;
  const renewal = renewWhileSending(ctx, mine, leaseMs);
  const outcome = await ctx.mail.send(mail.message as MailMessage);
  renewal.stop();
  counters.inFlight--;
  const release = { $unset: { 'mail.leaseUntil': '', 'mail.claim': '' } } as const;
  let recorded: { matchedCount: number };
  if (outcome.ok) {
    counters.sent++;
    recorded = await ctx.users.updateOne(mine, {
      $set: { 'mail.state': 'sent', 'mail.sentAt': new Date() },
      ...release,
    });
  } else if (outcome.temporary && attempt < maxAttempts) {
    counters.retried++;
    const next = new Date(Date.now() + backoffMs(attempt, backoffBaseMs, backoffMaxMs));
    recorded = await ctx.users.updateOne(mine, {
      $set: {
        'mail.state': 'pending',
        'mail.nextAttemptAt': next,
        'mail.lastError': outcome.message,
      },
      ...release,
    });
  } else {
    counters.failed++;
    recorded = await ctx.users.updateOne(mine, {
      $set: { 'mail.state': 'failed', 'mail.lastError': outcome.message },
      ...release,
    });
  }
  // Another sender holds the e-mail now (this process stalled past its lease): its outcome stands.
  if (recorded.matchedCount === 0) {
    counters.fencedOff++;
    ctx.log(
      `outbox: the claim on ${String(before._id)} was taken over during its send; its outcome is not recorded`,
    );
  }
}

export function createOutboxStrategy(ctx: StrategyContext): EmailStrategy {
  const { concurrency, leaseMs, pollMs } = ctx.options.outbox;
  const instanceId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const counters: OutboxCounters = { ...emptyCounters(), reclaimed: 0, fencedOff: 0 };
  const wake = createWakeSignal();
  let stopping = false;

  async function runSender(): Promise<void> {
    while (!stopping) {
      // Sleep when there was nothing to claim, and after an error (the database may be gone for a
      // while).
      let idle = true;
      try {
        const token = randomBytes(8).toString('hex');
        const doc = await claimNext(ctx.users, instanceId, token, leaseMs);
        if (doc) await deliver(ctx, counters, token, doc);
        idle = doc === null;
      } catch (err) {
        if (stopping) return;
        ctx.log(`outbox dispatcher: ${(err as Error).message}`);
      }
      if (idle) await wake.sleepOrWake(pollMs);
    }
  }
  const senders = Array.from({ length: concurrency }, () => runSender());

  return {
    documentFields: (message: MailMessage) => ({
      mail: { state: 'pending', message, attempts: 0, nextAttemptAt: new Date() },
    }),
    async afterSignup() {
      wake.notify();
      return 'queued';
    },
    async counters() {
      const [queued, sending] = await Promise.all([
        ctx.users.countDocuments({ 'mail.state': 'pending' }),
        ctx.users.countDocuments({ 'mail.state': 'sending' }),
      ]);
      const { reclaimed: _reclaimed, fencedOff: _fencedOff, ...rest } = counters;
      // In flight: claims of any process, a killed one's too (they go out again once their lease
      // expires),
      // and a send past its deadline, which has freed its sender but may still be in the transport.
      return {
        ...rest,
        queued,
        inFlight: Math.max(counters.inFlight, sending, ctx.mail.queued + ctx.mail.inFlight),
      };
    },
    async failures(): Promise<MailFailure[]> {
      const failed = await ctx.users
        .find({ 'mail.state': 'failed' }, { projection: { email: 1, 'mail.lastError': 1 } })
        .toArray();
      return failed.map((u) => ({
        id: u._id.toHexString(),
        to: u.email,
        reason: u.mail?.lastError ?? 'failed',
        cancelled: false,
      }));
    },
    async close() {
      stopping = true;
      const inFlightBefore = counters.inFlight;
      wake.notify();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(senders),
        new Promise((r) => (timer = setTimeout(r, ctx.options.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      // Unsent outbox e-mails are not lost: they stay pending (or leased) in the database.
      const left = counters.inFlight;
      const held = await ctx.users
        .find({ 'mail.state': { $in: ['pending', 'sending'] } }, { projection: { email: 1 } })
        .toArray()
        .catch(() => null);
      const report = { drained: inFlightBefore - left, abandoned: 0 };
      return held ? { ...report, heldTo: held.map((u) => u.email) } : report;
    },
  };
}
