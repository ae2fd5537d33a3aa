/** A piscina worker: each thread owns one SMTP transport and sends the messages it is handed. */
import { workerData } from 'node:worker_threads';
import type { Transporter } from 'nodemailer';
import { createMailTransport, sendWithTimeout, type MailMessage, type SendOutcome } from './email.ts';
import type { SmtpOptions } from './contract/options.ts';

let transport: Transporter | undefined;

export interface MailTask {
  message: MailMessage;
}

export default async function sendMail(task: MailTask): Promise<SendOutcome> {
  const smtp = (workerData as { smtp: SmtpOptions }).smtp;
  transport ??= createMailTransport(smtp);
  return sendWithTimeout(transport, task.message, smtp.sendTimeoutMs);
}
