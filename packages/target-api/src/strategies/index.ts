/**
 * Which strategy each variant runs: one entry per variant of the registry (a missing one is a
 * compile error), with the indexes it needs beyond the users' own.
 */
import type { IndexDescription } from 'mongodb';
import type { Variant } from '../contract/variants.ts';
import { createAgendaStrategy } from './agenda.ts';
import { createBullmqStrategy } from './bullmq.ts';
import { createBullmqWorkerStrategy } from './bullmq-worker.ts';
import { createOutboxStrategy, OUTBOX_INDEXES } from './outbox.ts';
import { createBackgroundStrategy, createInlineStrategy, createNoEmailStrategy } from './simple.ts';
import type { EmailStrategy, StrategyContext } from './types.ts';
import { createWorkerPoolStrategy } from './worker-pool.ts';

interface StrategyEntry {
  create(ctx: StrategyContext): EmailStrategy | Promise<EmailStrategy>;
  /** Indexes on the users collection that this strategy's queries need. */
  indexes: IndexDescription[];
}

const STRATEGIES = {
  'no-email': { create: createNoEmailStrategy, indexes: [] },
  inline: { create: createInlineStrategy, indexes: [] },
  background: { create: createBackgroundStrategy, indexes: [] },
  'worker-pool': { create: createWorkerPoolStrategy, indexes: [] },
  outbox: { create: createOutboxStrategy, indexes: OUTBOX_INDEXES },
  // Agenda creates the indexes of its own collection.
  agenda: { create: createAgendaStrategy, indexes: [] },
  bullmq: { create: createBullmqStrategy, indexes: [] },
  'bullmq-worker': { create: createBullmqWorkerStrategy, indexes: [] },
} satisfies Record<Variant, StrategyEntry>;

export function strategyFor(variant: Variant): StrategyEntry {
  return STRATEGIES[variant];
}

export type {
  EmailStrategy,
  EmailStatus,
  ShutdownReport,
  StrategyContext,
  UserDocument,
  OutboxState,
} from './types.ts';
export { backoffMs } from './outbox.ts';
