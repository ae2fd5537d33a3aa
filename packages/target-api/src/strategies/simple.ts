/** The three strategies that send from the main thread (or not at all). */
import { sendWithTimeout, type MailMessage } from '../email.ts';
import { createSendTracker, drainWithTimeout, emptyCounters, type EmailStrategy, type StrategyContext } from './types.ts';

/** Baseline: the user is stored, no e-mail is sent. */
export function createNoEmailStrategy(): EmailStrategy {
  return {
    documentFields: () => ({}),
    afterSignup: async () => 'none',
    counters: async () => emptyCounters(),
    close: async () => ({ drained: 0, abandoned: 0 }),
  };
}

/** The reference experiment's "blocking": the reply waits for the SMTP server to accept. */
export function createInlineStrategy(ctx: StrategyContext): EmailStrategy {
  const counters = emptyCounters();
  const pending = new Set<Promise<unknown>>();
  return {
    documentFields: () => ({}),
    async afterSignup(_registration, message: MailMessage) {
      counters.inFlight++;
      const sending = sendWithTimeout(ctx.transport(), message, ctx.options.smtp.sendTimeoutMs);
      pending.add(sending);
      const outcome = await sending;
      pending.delete(sending);
      counters.inFlight--;
      if (outcome.ok) {
        counters.sent++;
        return 'sent';
      }
      counters.failed++;
      return 'failed';
    },
    counters: async () => ({ ...counters }),
    async close() {
      // fastify has already answered every request; nothing is in flight unless a request timed out.
      const left = await drainWithTimeout(pending, ctx.options.drainTimeoutMs);
      return { drained: 0, abandoned: left };
    },
  };
}

/** The reference experiment's "background thread": reply first, send afterwards on the main thread. */
export function createBackgroundStrategy(ctx: StrategyContext): EmailStrategy {
  const sends = createSendTracker(ctx.options.drainTimeoutMs);
  return {
    documentFields: () => ({}),
    afterSignup: async (_registration, message: MailMessage) =>
      sends.track(() => sendWithTimeout(ctx.transport(), message, ctx.options.smtp.sendTimeoutMs)),
    counters: async () => ({ ...sends.counters }),
    close: () => sends.drain(),
  };
}
