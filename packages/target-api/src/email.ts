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
export type MailMessage = Pick<SendMailOptions, 'from' | 'to' | 'subject' | 'text' | 'html' | 'messageId'> & {
  headers: Record<string, string>;
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function confirmationLink(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/$/, '')}/api/users/confirm?token=${encodeURIComponent(token)}`;
}

export function buildConfirmationMail(registration: Registration, baseUrl: string, from: string): MailMessage {
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
    return nodemailer.createTransport({ ...common, pool: true, maxConnections: smtp.maxConnections, maxMessages: smtp.maxMessages });
  }
  return nodemailer.createTransport(common);
}

export type SendOutcome = { ok: true } | { ok: false; temporary: boolean; code: number | null; message: string };

/** Sends with an overall time limit; classifies failures as temporary (4xx, network) or permanent (5xx). */
export async function sendWithTimeout(transport: Transporter, message: MailMessage, timeoutMs: number): Promise<SendOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<SendOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, temporary: true, code: null, message: `send timed out after ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([
      transport.sendMail(message).then(
        (): SendOutcome => ({ ok: true }),
        (err: Error & { responseCode?: number }): SendOutcome => ({
          ok: false,
          temporary: err.responseCode === undefined || err.responseCode < 500,
          code: err.responseCode ?? null,
          message: err.message,
        }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
