/**
 * Mailer plugin: the process's SMTP transport (created on first use) behind its gate; closed in
 * onClose.
 */
import fp from 'fastify-plugin';
import type { Transporter } from 'nodemailer';
import type { SmtpOptions } from '../contract/options.ts';
import { createMailTransport } from '../email.ts';
import { createMailQueue, type MailQueue } from '../mail-queue.ts';

declare module 'fastify' {
  interface FastifyInstance {
    mailQueue: MailQueue;
  }
}

export const mailerPlugin = fp<{ smtp: SmtpOptions }>(
  async (app, { smtp }) => {
    let transport: Transporter | undefined;
    app.decorate(
      'mailQueue',
      createMailQueue(smtp, () => (transport ??= createMailTransport(smtp))),
    );
    app.addHook('onClose', async () => {
      transport?.close();
    });
  },
  { name: 'mailbench-mailer' },
);
