/**
 * The `bullmq-worker` variant's worker process: a BullMQ worker on the API's queue with the
 * whole SMTP connection budget (the API process sends nothing in this variant). It tells its
 * API (over the IPC channel) when it is ready and whenever its counts change, and stops when
 * asked, draining the jobs it holds. If the API dies, the channel closes: the worker stops
 * taking jobs, finishes those it holds (up to the drain timeout) and exits, so a crashed API
 * leaves no process behind and its restart starts a fresh worker.
 */
import { createMailTransport } from './email.ts';
import { createMailQueue } from './mail-queue.ts';
import { startSendWorker, type SendWorker } from './strategies/bullmq.ts';
import type { WorkerConfig, WorkerMessage, ParentMessage } from './strategies/bullmq-worker.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
/** Sends to the API if it is still there; resolves once the message is written. */
const send = (m: WorkerMessage) =>
  new Promise<void>((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
const log = (line: string) => process.stderr.write(`[bullmq-worker ${process.pid}] ${line}\n`);

const transport = createMailTransport(config.smtp);
const mail = createMailQueue(config.smtp, () => transport);
let worker: SendWorker | undefined;
let reportScheduled = false;
const report = () => {
  if (reportScheduled) return;
  reportScheduled = true;
  setImmediate(() => {
    reportScheduled = false;
    if (worker)
      void send({
        type: 'counters',
        counters: { ...worker.counters },
        busy: mail.queued + mail.inFlight,
      });
  });
};

let stopping: Promise<void> | undefined;
function stop(timeoutMs: number): Promise<void> {
  stopping ??= (async () => {
    const result = worker ? await worker.close(timeoutMs) : { drained: 0, abandoned: 0 };
    transport.close();
    if (worker) await send({ type: 'closed', report: result, counters: { ...worker.counters } });
    if (process.connected) process.disconnect();
    process.exit(0);
  })();
  return stopping;
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'close') void stop(m.timeoutMs);
});
process.on('disconnect', () => void stop(config.drainTimeoutMs));
process.on('SIGTERM', () => void stop(config.drainTimeoutMs));
process.on('SIGINT', () => void stop(config.drainTimeoutMs));

try {
  worker = await startSendWorker(
    config.redisUrl,
    config.queueName,
    config.bullmq,
    mail,
    log,
    report,
  );
  await send({ type: 'ready' });
} catch (err) {
  log(`cannot start: ${(err as Error).message}`);
  process.exit(1);
}
