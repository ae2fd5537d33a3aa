/**
 * BullMQ on Redis: the sign-up stores the user, then adds a send job to a queue (named after the
 * API's database, so every cell has its own; the job id is the registration id). A worker takes
 * jobs with a blocking pop and sends through an SMTP gate: in the API process (`bullmq`) or in a
 * worker process of its own (`bullmq-worker`, see bullmq-worker.ts). Temporary failures are
 * retried (attempts, exponential backoff); a 5xx fails the job at once (UnrecoverableError). A
 * job held by a process that died is "stalled": a worker's check (every `lockMs`; BullMQ's
 * default 30 s) moves it back to waiting once its lock (`lockMs`) has expired.
 * Connections as BullMQ's production guide says: the worker's waits for Redis without limit
 * (maxRetriesPerRequest null), the API's queue fails fast when Redis is away (no offline queue).
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { MailCounters, MailFailure, ShutdownReport } from '../contract/messages.ts';
import type { AppOptions, BullmqOptions } from '../contract/options.ts';
import type { MailQueue } from '../mail-queue.ts';
import {
  emptyCounters,
  type EmailStrategy,
  type SendJobData,
  type StrategyContext,
} from './types.ts';

export const BULLMQ_PREFIX = 'mailbench';

export function bullmqUrl(options: AppOptions): string {
  if (!options.redisUrl) throw new Error('bullmq needs redisUrl');
  return options.redisUrl;
}

export interface SendWorker {
  /** Sent, retried and failed as the worker counted them; in flight = jobs it is sending. */
  counters: MailCounters;
  /** Stops taking jobs and waits for the running ones up to the timeout (then closes by force). */
  close(timeoutMs: number): Promise<ShutdownReport>;
}

/** A BullMQ worker on the queue, sending each job's message through `mail`. */
export async function startSendWorker(
  url: string,
  queueName: string,
  o: BullmqOptions,
  mail: MailQueue,
  log: (line: string) => void,
  onChange: () => void = () => {},
): Promise<SendWorker> {
  const counters = emptyCounters();
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  connection.on('error', (err: Error) => log(`bullmq redis: ${err.message}`));
  const worker = new Worker<SendJobData>(
    queueName,
    async (job: Job<SendJobData>) => {
      counters.inFlight++;
      onChange();
      const outcome = await mail.send(job.data.message).finally(() => {
        counters.inFlight--;
        onChange();
      });
      if (outcome.ok) return;
      if (!outcome.temporary) throw new UnrecoverableError(outcome.message);
      throw new Error(outcome.message);
    },
    {
      connection,
      prefix: BULLMQ_PREFIX,
      concurrency: o.concurrency,
      lockDuration: o.lockMs,
      stalledInterval: o.lockMs,
    },
  );
  worker.on('error', (err: Error) => log(`bullmq worker: ${err.message}`));
  worker.on('completed', () => {
    counters.sent++;
    onChange();
  });
  worker.on('failed', (job, err) => {
    // BullMQ has counted the attempt by now: another one follows unless the error was final or the
    // attempts are used up.
    if (job && !(err instanceof UnrecoverableError) && job.attemptsMade < (job.opts.attempts ?? 1))
      counters.retried++;
    else counters.failed++;
    onChange();
  });
  await worker.waitUntilReady();
  let closed = false;
  return {
    counters,
    async close(timeoutMs) {
      if (closed) return { drained: 0, abandoned: 0 };
      closed = true;
      const before = counters.inFlight;
      // close() waits for the running jobs; waiting ones stay in Redis.
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        worker.close().then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) await worker.close(true).catch(() => {});
      connection.disconnect();
      return { drained: before - counters.inFlight, abandoned: 0 };
    },
  };
}

/** Where the worker runs: how the strategy reads its counters and stops it. */
export interface WorkerHandle {
  counters(): MailCounters;
  /** How many messages the worker's own gate holds (queued or in the transport). */
  busy(): number;
  close(timeoutMs: number): Promise<ShutdownReport>;
}

/** The API side, common to both placements of the worker: the queue, the counts, the failures. */
export async function createBullmqProducer(
  ctx: StrategyContext,
  startWorker: () => Promise<WorkerHandle>,
): Promise<EmailStrategy> {
  const { attempts, backoffMs } = ctx.options.bullmq;
  const queueName = ctx.options.dbName;
  const producer = new Redis(bullmqUrl(ctx.options), { enableOfflineQueue: false });
  producer.on('error', (err: Error) => ctx.log(`bullmq redis: ${err.message}`));
  const queue = new Queue<SendJobData>(queueName, { connection: producer, prefix: BULLMQ_PREFIX });
  queue.on('error', (err: Error) => ctx.log(`bullmq queue: ${err.message}`));
  // The producer connects on its own; without an offline queue, the first add must not race it.
  const [worker] = await Promise.all([startWorker(), queue.waitUntilReady()]);
  let closed = false;

  return {
    documentFields: () => ({}),
    async afterSignup(registration, message) {
      await queue.add(
        'send-confirmation',
        { registration: { id: registration.id, email: registration.email }, message },
        {
          jobId: registration.id,
          attempts,
          backoff: { type: 'exponential', delay: backoffMs },
          removeOnComplete: { count: 1000 },
        },
      );
      return 'queued';
    },
    async counters() {
      const c = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active');
      const queued = (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
      const own = worker.counters();
      return { ...own, queued, inFlight: Math.max(c.active ?? 0, own.inFlight, worker.busy()) };
    },
    async failures(): Promise<MailFailure[]> {
      const failed = await queue.getFailed(0, -1);
      return failed.map((j) => ({
        id: j.data.registration.id,
        to: j.data.registration.email,
        reason: j.failedReason ?? 'failed',
        cancelled: false,
      }));
    },
    async close() {
      if (closed) return { drained: 0, abandoned: 0 };
      closed = true;
      const report = await worker.close(ctx.options.drainTimeoutMs);
      await queue.close().catch(() => {});
      producer.disconnect();
      return report;
    },
  };
}

/** `bullmq`: the worker in the API process, sending through the process's gate. */
export async function createBullmqStrategy(ctx: StrategyContext): Promise<EmailStrategy> {
  return createBullmqProducer(ctx, async () => {
    const worker = await startSendWorker(
      bullmqUrl(ctx.options),
      ctx.options.dbName,
      ctx.options.bullmq,
      ctx.mail,
      ctx.log,
    );
    return {
      counters: () => ({ ...worker.counters }),
      busy: () => ctx.mail.queued + ctx.mail.inFlight,
      close: (t) => worker.close(t),
    };
  });
}
