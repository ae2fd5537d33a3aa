/**
 * The e-mail strategy (the variant under test); drained and closed in onClose, before the mailer
 * and database.
 */
import fp from 'fastify-plugin';
import type { AppOptions } from '../contract/options.ts';
import { strategyFor, type EmailStrategy, type ShutdownReport } from '../strategies/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    emailStrategy: EmailStrategy;
  }
}

export interface StrategyPluginOptions {
  options: AppOptions;
  onShutdown: (report: ShutdownReport) => void;
}

export const strategyPlugin = fp<StrategyPluginOptions>(
  async (app, { options, onShutdown }) => {
    const strategy = await strategyFor(options.variant).create({
      options,
      users: app.mongo.users,
      db: app.mongo.client.db(options.dbName),
      mail: app.mailQueue,
      log: (line) => app.log.warn(line),
    });
    app.decorate('emailStrategy', strategy);
    app.addHook('onClose', async () => {
      const report = await strategy.close();
      // The failures after the drain too, which /mail/failures can no longer be asked for.
      const failures = await strategy.failures().catch(() => undefined);
      onShutdown(failures ? { ...report, failures } : report);
    });
  },
  { name: 'mailbench-strategy', dependencies: ['mailbench-db', 'mailbench-mailer'] },
);
