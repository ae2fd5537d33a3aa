/**
 * A piscina worker: each thread owns one SMTP transport behind its own gate and sends the
 * messages it is handed. A task ends when the transport has settled, so the main thread counts
 * a message in flight for as long as it really is.
 */
import { workerData } from 'node:worker_threads';
import type { SmtpOptions } from './contract/options.ts';
import { createMailTransport, type MailMessage, type SendOutcome } from './email.ts';
import { createMailQueue, type MailQueue } from './mail-queue.ts';

const smtp = (workerData as { smtp: SmtpOptions }).smtp;
let queue: MailQueue | undefined;

export interface MailTask {
  message: MailMessage;
}

export default async function sendMail(task: MailTask): Promise<SendOutcome> {
  if (!queue) {
    const transport = createMailTransport(smtp);
    queue = createMailQueue(smtp, () => transport);
  }
  return queue.send(task.message, { waitForTransport: true });
}
