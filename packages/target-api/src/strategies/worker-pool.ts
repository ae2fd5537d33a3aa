/** Sends from a piscina pool of worker threads, each with its own transport. */
import { Piscina } from 'piscina';
import type { MailMessage, SendOutcome } from '../email.ts';
import { drainWithTimeout, emptyCounters, type EmailStrategy, type StrategyContext } from './types.ts';

export function createWorkerPoolStrategy(ctx: StrategyContext): EmailStrategy {
  const { threads, concurrentTasksPerWorker } = ctx.options.workerPool;
  const pool = new Piscina({
    filename: new URL('../mail-worker-boot.mjs', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { smtp: ctx.options.smtp },
  });
  const counters = emptyCounters();
  const pending = new Set<Promise<unknown>>();
  let closing = false;
  let destroyed = false;
  return {
    variant: 'worker-pool',
    documentFields: () => ({}),
    async afterSignup(_registration, message: MailMessage) {
      if (closing) {
        counters.abandoned++;
        return 'failed';
      }
      counters.inFlight++;
      const task = (pool.run({ message }) as Promise<SendOutcome>)
        .then(
          (outcome) => {
            if (outcome.ok) counters.sent++;
            else counters.failed++;
          },
          () => {
            // After destroy() the pool rejects what it never ran: those are counted as abandoned.
            if (!destroyed) counters.failed++;
          },
        )
        .finally(() => {
          pending.delete(task);
          counters.inFlight--;
        });
      pending.add(task);
      return 'queued';
    },
    async counters() {
      // Tasks waiting for a thread are queued; the rest of those in flight are being sent.
      const queued = Math.min(pool.queueSize, counters.inFlight);
      return { ...counters, queued, inFlight: counters.inFlight - queued };
    },
    async close() {
      closing = true;
      const before = pending.size;
      const left = await drainWithTimeout(pending, ctx.options.drainTimeoutMs);
      counters.abandoned += left;
      destroyed = true;
      await pool.destroy();
      return { drained: before - left, abandoned: left };
    },
  };
}
