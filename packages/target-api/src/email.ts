/** The confirmation e-mail and the SMTP transport that carries it. */
import { randomBytes } from 'node:crypto';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { SmtpOptions } from './contract/options.ts';

export interface Registration {
  id: string;
  username: string;
  email: string;
  confirmToken: string;
}

/** What a strategy hands to a transport: plain data, so it can cross to a worker thread. */
export type MailMessage = Pick<
  SendMailOptions,
  'from' | 'to' | 'subject' | 'text' | 'html' | 'messageId'
> & {
  headers: Record<string, string>;
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function confirmationLink(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/$/, '')}/api/users/confirm?token=${encodeURIComponent(token)}`;
}

export function buildConfirmationMail(
  registration: Registration,
  baseUrl: string,
  from: string,
): MailMessage {
  const link = confirmationLink(baseUrl, registration.confirmToken);
  return {
    from,
    to: registration.email,
    subject: 'Confirm your mailbench account',
    messageId: `<${registration.id}.${randomBytes(6).toString('hex')}@mailbench.test>`,
    headers: { 'X-Registration-Id': registration.id },
    text: `Hello ${registration.username},\n\nconfirm your account by opening this link:\n${link}\n\nIf you did not sign up, ignore this e-mail.\n`,
    html:
      `<p>Hello ${escapeHtml(registration.username)},</p>` +
      `<p>confirm your account by opening <a href="${escapeHtml(link)}">this link</a>.</p>` +
      '<p>If you did not sign up, ignore this e-mail.</p>',
  };
}

export function createMailTransport(smtp: SmtpOptions): Transporter {
  const common = {
    host: smtp.host,
    port: smtp.port,
    secure: false,
    ignoreTLS: true,
    connectionTimeout: smtp.sendTimeoutMs,
    greetingTimeout: smtp.sendTimeoutMs,
    socketTimeout: smtp.sendTimeoutMs,
  };
  if (smtp.transport === 'pooled') {
    return nodemailer.createTransport({
      ...common,
      pool: true,
      maxConnections: smtp.maxConnections,
      maxMessages: smtp.maxMessages,
    });
  }
  return nodemailer.createTransport(common);
}

export type SendOutcome =
  | { ok: true }
  | {
      ok: false;
      temporary: boolean;
      code: number | null;
      message: string;
      /**
       * True when the send was given up before it reached the transport: it will never be
       * delivered.
       */
      cancelled: boolean;
    };

/** A transport's error as an outcome: 4xx and network errors are temporary, 5xx permanent. */
export function outcomeOfError(err: Error & { responseCode?: number }): SendOutcome {
  return {
    ok: false,
    temporary: err.responseCode === undefined || err.responseCode < 500,
    code: err.responseCode ?? null,
    message: err.message,
    cancelled: false,
  };
}
