/** The three strategies that send from the main thread (or not at all). */
import type { MailMessage } from '../email.ts';
import {
  createOutcomeLog,
  createSendTracker,
  emptyCounters,
  type EmailStrategy,
  type StrategyContext,
} from './types.ts';

/** Baseline: the user is stored, no e-mail is sent. */
export function createNoEmailStrategy(): EmailStrategy {
  return {
    documentFields: () => ({}),
    afterSignup: async () => 'none',
    counters: async () => emptyCounters(),
    failures: async () => [],
    close: async () => ({ drained: 0, abandoned: 0 }),
  };
}

/** The reference experiment's "blocking": the reply waits for the SMTP server to accept. */
export function createInlineStrategy(ctx: StrategyContext): EmailStrategy {
  const log = createOutcomeLog();
  return {
    documentFields: () => ({}),
    async afterSignup(registration, message: MailMessage) {
      const outcome = await ctx.mail.send(message);
      log.record(registration, outcome);
      return outcome.ok ? 'sent' : 'failed';
    },
    counters: async () => ({
      ...log.counters,
      queued: ctx.mail.queued,
      inFlight: ctx.mail.inFlight,
    }),
    failures: async () => [...log.failures],
    async close() {
      // fastify has answered every request; a send can outlive its reply only past its deadline.
      const left = await ctx.mail.idle(ctx.options.drainTimeoutMs);
      log.counters.abandoned += left;
      return { drained: 0, abandoned: left, abandonedTo: ctx.mail.pendingRecipients() };
    },
  };
}

/**
 * The reference experiment's "background thread": reply first, send afterwards on the main thread.
 */
export function createBackgroundStrategy(ctx: StrategyContext): EmailStrategy {
  const sends = createSendTracker(ctx.options.drainTimeoutMs, ctx.mail);
  return {
    documentFields: () => ({}),
    afterSignup: async (registration, message: MailMessage) =>
      sends.track(registration, () => ctx.mail.send(message)),
    counters: async () => ({
      ...sends.counters,
      queued: ctx.mail.queued,
      inFlight: ctx.mail.inFlight,
    }),
    failures: async () => [...sends.failures],
    close: () => sends.drain(),
  };
}
