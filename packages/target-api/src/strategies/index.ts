import type { Variant } from '../options.ts';
import { createOutboxStrategy } from './outbox.ts';
import { createBackgroundStrategy, createInlineStrategy, createNoEmailStrategy } from './simple.ts';
import type { EmailStrategy, StrategyContext } from './types.ts';
import { createWorkerPoolStrategy } from './worker-pool.ts';

export function createStrategy(variant: Variant, ctx: StrategyContext): EmailStrategy {
  switch (variant) {
    case 'no-email':
      return createNoEmailStrategy();
    case 'inline':
      return createInlineStrategy(ctx);
    case 'background':
      return createBackgroundStrategy(ctx);
    case 'worker-pool':
      return createWorkerPoolStrategy(ctx);
    case 'outbox':
      return createOutboxStrategy(ctx);
  }
}

export type { EmailStrategy, EmailStatus, ShutdownReport, StrategyContext, UserDocument, OutboxState } from './types.ts';
export { backoffMs } from './outbox.ts';
