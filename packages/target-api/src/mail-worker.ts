/**
 * A piscina worker: each thread owns one SMTP transport behind its own gate, with its share of
 * the process's connection budget, and sends the messages it is handed. A task ends when the
 * transport has settled, so the main thread counts
 * a message in flight for as long as it really is.
 */
import { workerData } from 'node:worker_threads';
import type { SmtpOptions } from './contract/options.ts';
import { createMailTransport, type MailMessage, type SendOutcome } from './email.ts';
import { createMailQueue, type MailQueue } from './mail-queue.ts';
import { connectionShare } from './contract/options.ts';

const data = workerData as { smtp: SmtpOptions; threads: number; slotCounter: SharedArrayBuffer };
const slot = Atomics.add(new Int32Array(data.slotCounter), 0, 1) % data.threads;
/** This thread's share of the process's connection budget. */
export const smtp: SmtpOptions = {
  ...data.smtp,
  maxConnections: connectionShare(data.smtp.maxConnections, data.threads, slot),
};
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
