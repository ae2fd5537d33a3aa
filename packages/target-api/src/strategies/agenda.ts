/**
 * Agenda (npm `agenda` 6 with `@agendajs/mongo-backend`): the sign-up stores the user, then
 * schedules a send job in the same database (a second write: not atomic with the user's). The
 * API process runs Agenda's job processor, which polls every `processEveryMs` (MongoDB gives
 * Agenda no notifications without a replica set's change streams, so they stay off), locks due
 * jobs and sends through the process's SMTP gate. Failed sends are retried with Agenda's
 * standard backoff preset; a 5xx is not retried. A job locked by a process that died runs again
 * once its lock expires (`lockLifetimeMs`): at least once.
 */
import { Agenda, backoffStrategies, type Job } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { MailFailure } from '../contract/messages.ts';
import {
  emptyCounters,
  type EmailStrategy,
  type SendJobData,
  type StrategyContext,
} from './types.ts';

export const AGENDA_JOB = 'send-confirmation';
export const AGENDA_COLLECTION = 'agendaJobs';

/** A send the SMTP server refused for good (5xx): retrying cannot help. */
class PermanentSendError extends Error {
  override name = 'PermanentSendError';
}

export async function createAgendaStrategy(ctx: StrategyContext): Promise<EmailStrategy> {
  const { processEveryMs, concurrency, lockLifetimeMs } = ctx.options.agenda;
  const counters = emptyCounters();
  const standard = backoffStrategies.standard();
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: ctx.db, collection: AGENDA_COLLECTION }),
    processEvery: processEveryMs,
    maxConcurrency: concurrency,
    defaultConcurrency: concurrency,
    defaultLockLifetime: lockLifetimeMs,
  });
  agenda.on('error', (err: Error) => ctx.log(`agenda: ${err.message}`));
  agenda.define(
    AGENDA_JOB,
    async (job: Job<SendJobData>) => {
      counters.inFlight++;
      const outcome = await ctx.mail
        .send(job.attrs.data.message)
        .finally(() => counters.inFlight--);
      if (outcome.ok) {
        counters.sent++;
        return;
      }
      throw outcome.temporary
        ? new Error(outcome.message)
        : new PermanentSendError(outcome.message);
    },
    {
      concurrency,
      lockLifetime: lockLifetimeMs,
      // Agenda asks after every failure: a delay is a retry, null the end. Counted where it is
      // decided.
      backoff: (context) => {
        const delay = context.error instanceof PermanentSendError ? null : standard(context);
        if (delay === null) counters.failed++;
        else counters.retried++;
        return delay;
      },
    },
  );
  await agenda.start();
  const jobs = ctx.db.collection(AGENDA_COLLECTION);
  let closed = false;

  return {
    documentFields: () => ({}),
    async afterSignup(registration, message) {
      await agenda.now(AGENDA_JOB, {
        registration: { id: registration.id, email: registration.email },
        message,
      } satisfies SendJobData);
      return 'queued';
    },
    async counters() {
      // Agenda's own state: due or waiting for a retry (not locked), and locked (claimed by a
      // processor, running or about to).
      const [queued, locked] = await Promise.all([
        jobs.countDocuments({ name: AGENDA_JOB, nextRunAt: { $ne: null }, lockedAt: null }),
        jobs.countDocuments({ name: AGENDA_JOB, lockedAt: { $ne: null } }),
      ]);
      return {
        ...counters,
        queued,
        inFlight: Math.max(locked, counters.inFlight, ctx.mail.queued + ctx.mail.inFlight),
      };
    },
    async failures(): Promise<MailFailure[]> {
      // Given up for good: no next run and a failure count (a success resets it to 0).
      const failed = await jobs
        .find(
          { name: AGENDA_JOB, nextRunAt: null, failCount: { $gt: 0 } },
          { projection: { 'data.registration': 1, failReason: 1 } },
        )
        .toArray();
      return failed.map((j) => {
        const reg = (j.data as SendJobData).registration;
        return {
          id: reg.id,
          to: reg.email,
          reason: String(j.failReason ?? 'failed'),
          cancelled: false,
        };
      });
    },
    async close() {
      if (closed) return { drained: 0, abandoned: 0 };
      closed = true;
      const before = counters.inFlight;
      // drain() stops taking jobs and waits for the running ones; unfinished jobs stay in MongoDB.
      const result = await agenda.drain({ timeout: ctx.options.drainTimeoutMs });
      return { drained: Math.min(before, result.completed), abandoned: 0 };
    },
  };
}
