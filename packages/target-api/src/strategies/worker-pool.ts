/**
 * Sends from a piscina pool of worker threads, each with its own transport behind its own gate.
 * The process's SMTP connection budget (maxConnections) is split across the threads, so this
 * variant opens no more connections than the others: 5 over 2 threads is 3 + 2.
 */
import { Piscina } from 'piscina';
import type { MailMessage, SendOutcome } from '../email.ts';
import { entryFile } from '../entry-files.ts';
import { createSendTracker, type EmailStrategy, type StrategyContext } from './types.ts';

export function createWorkerPoolStrategy(ctx: StrategyContext): EmailStrategy {
  const { threads, concurrentTasksPerWorker } = ctx.options.workerPool;
  const pool = new Piscina({
    filename: entryFile('mail-worker').href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker,
    idleTimeout: Number.POSITIVE_INFINITY,
    // Each thread takes the next slot number from the shared counter and its share of the budget
    // with it.
    workerData: { smtp: ctx.options.smtp, threads, slotCounter: new SharedArrayBuffer(4) },
  });
  const sends = createSendTracker(ctx.options.drainTimeoutMs);
  return {
    documentFields: () => ({}),
    afterSignup: async (registration, message: MailMessage) =>
      sends.track(registration, () => pool.run({ message }) as Promise<SendOutcome>),
    async counters() {
      // Tasks waiting for a thread are queued; the rest of those in flight are being sent.
      const counters = sends.counters;
      const queued = Math.min(pool.queueSize, counters.inFlight);
      return { ...counters, queued, inFlight: counters.inFlight - queued };
    },
    failures: async () => [...sends.failures],
    async close() {
      const report = await sends.drain();
      // destroy() rejects the tasks it never ran; the tracker has counted them as abandoned.
      await pool.destroy();
      return report;
    },
  };
}
