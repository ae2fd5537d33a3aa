/**
 * BullMQ on Redis: the sign-up stores the user, then adds a send job to a queue (named after the
 * API's database, so every cell has its own; the job id is the registration id). A worker in the
 * API process takes jobs with a blocking pop and sends through the process's SMTP gate. Temporary
 * failures are retried (attempts, exponential backoff); a 5xx fails the job at once
 * (UnrecoverableError). A job held by a process that died is "stalled": a worker's check (every
 * `lockMs`; BullMQ's default 30 s) moves it back to waiting once its lock (`lockMs`) has expired.
 * Connections as BullMQ's production guide says: the worker's waits for Redis without limit
 * (maxRetriesPerRequest null), the API's queue fails fast when Redis is away (no offline queue).
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { MailFailure } from '../contract/messages.ts';
import { emptyCounters, type EmailStrategy, type SendJobData, type StrategyContext } from './types.ts';

export const BULLMQ_PREFIX = 'mailbench';

export async function createBullmqStrategy(ctx: StrategyContext): Promise<EmailStrategy> {
  const { concurrency, attempts, backoffMs, lockMs } = ctx.options.bullmq;
  const url = ctx.options.redisUrl;
  if (!url) throw new Error('bullmq needs redisUrl');
  const queueName = ctx.options.dbName;
  const counters = emptyCounters();
  const producer = new Redis(url, { enableOfflineQueue: false });
  const consumer = new Redis(url, { maxRetriesPerRequest: null });
  for (const conn of [producer, consumer]) conn.on('error', (err: Error) => ctx.log(`bullmq redis: ${err.message}`));
  const queue = new Queue<SendJobData>(queueName, { connection: producer, prefix: BULLMQ_PREFIX });
  queue.on('error', (err: Error) => ctx.log(`bullmq queue: ${err.message}`));
  const worker = new Worker<SendJobData>(
    queueName,
    async (job: Job<SendJobData>) => {
      counters.inFlight++;
      const outcome = await ctx.mail.send(job.data.message).finally(() => counters.inFlight--);
      if (outcome.ok) return;
      if (!outcome.temporary) throw new UnrecoverableError(outcome.message);
      throw new Error(outcome.message);
    },
    { connection: consumer, prefix: BULLMQ_PREFIX, concurrency, lockDuration: lockMs, stalledInterval: lockMs },
  );
  worker.on('error', (err: Error) => ctx.log(`bullmq worker: ${err.message}`));
  worker.on('completed', () => counters.sent++);
  worker.on('failed', (job, err) => {
    // BullMQ has counted the attempt by now: another one follows unless the error was final or the attempts are used up.
    if (job && !(err instanceof UnrecoverableError) && job.attemptsMade < (job.opts.attempts ?? 1)) counters.retried++;
    else counters.failed++;
  });
  // The producer connects on its own; without an offline queue, the first add must not race it.
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
  let closed = false;

  return {
    documentFields: () => ({}),
    async afterSignup(registration, message) {
      await queue.add(
        'send-confirmation',
        { registration: { id: registration.id, email: registration.email }, message },
        { jobId: registration.id, attempts, backoff: { type: 'exponential', delay: backoffMs }, removeOnComplete: { count: 1000 } },
      );
      return 'queued';
    },
    async counters() {
      const c = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active');
      const queued = (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
      return { ...counters, queued, inFlight: Math.max(c.active ?? 0, counters.inFlight, ctx.mail.queued + ctx.mail.inFlight) };
    },
    async failures(): Promise<MailFailure[]> {
      const failed = await queue.getFailed(0, -1);
      return failed.map((j) => ({ id: j.data.registration.id, to: j.data.registration.email, reason: j.failedReason ?? 'failed', cancelled: false }));
    },
    async close() {
      if (closed) return { drained: 0, abandoned: 0 };
      closed = true;
      const before = counters.inFlight;
      // close() waits for the running jobs; waiting ones stay in Redis. Bounded by the drain timeout.
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        worker.close().then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ctx.options.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) await worker.close(true).catch(() => {});
      await queue.close().catch(() => {});
      producer.disconnect();
      consumer.disconnect();
      return { drained: before - counters.inFlight, abandoned: 0 };
    },
  };
}
