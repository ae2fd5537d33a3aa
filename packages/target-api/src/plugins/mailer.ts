/** Mailer plugin: the process's SMTP transport, created on first use, closed in onClose. */
import fp from 'fastify-plugin';
import type { Transporter } from 'nodemailer';
import { createMailTransport } from '../email.ts';
import type { SmtpOptions } from '../contract/options.ts';

declare module 'fastify' {
  interface FastifyInstance {
    mailTransport: () => Transporter;
  }
}

export const mailerPlugin = fp<{ smtp: SmtpOptions }>(
  async (app, { smtp }) => {
    let transport: Transporter | undefined;
    app.decorate('mailTransport', () => {
      transport ??= createMailTransport(smtp);
      return transport;
    });
    app.addHook('onClose', async () => {
      transport?.close();
    });
  },
  { name: 'mailbench-mailer' },
);
