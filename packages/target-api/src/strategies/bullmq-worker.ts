/**
 * `bullmq-worker`: BullMQ as it is deployed, the API adding jobs and a worker process of its own
 * sending them (the API forks it, one per API process, with the whole SMTP connection budget).
 * The API's counts come from the queue, and the sent/retried/failed counts from the worker over
 * the IPC channel. Its CPU is not the API process's: a cell's CPU figures leave it out.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { MailCounters, ShutdownReport } from '../contract/messages.ts';
import type { BullmqOptions, SmtpOptions } from '../contract/options.ts';
import { bullmqUrl, createBullmqProducer, type WorkerHandle } from './bullmq.ts';
import { emptyCounters, type EmailStrategy, type StrategyContext } from './types.ts';
import { entryFile } from '../entry-files.ts';

export interface WorkerConfig {
  redisUrl: string;
  queueName: string;
  bullmq: BullmqOptions;
  smtp: SmtpOptions;
  drainTimeoutMs: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'counters'; counters: MailCounters; busy: number }
  | { type: 'closed'; report: ShutdownReport; counters: MailCounters };

export type ParentMessage = { type: 'close'; timeoutMs: number };

const BOOT = entryFile('bullmq-worker-process');
const START_TIMEOUT_MS = 30_000;
/** Beyond the drain timeout, how long the worker may take to stop before it is killed. */
const STOP_GRACE_MS = 5_000;

export async function forkSendWorker(
  config: WorkerConfig,
  log: (line: string) => void,
): Promise<WorkerHandle> {
  const child: ChildProcess = fork(BOOT, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
  let latest = { counters: emptyCounters(), busy: 0 };
  let closedReport: ShutdownReport | undefined;
  child.on('message', (m: WorkerMessage) => {
    if (m.type === 'counters') latest = { counters: m.counters, busy: m.busy };
    if (m.type === 'closed') {
      latest = { counters: m.counters, busy: 0 };
      closedReport = m.report;
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`the bullmq worker process did not start within ${START_TIMEOUT_MS / 1000} s`),
        ),
      START_TIMEOUT_MS,
    );
    child.on('message', (m: WorkerMessage) => {
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      resolve();
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(
        new Error(
          `the bullmq worker process exited before it was ready (code ${child.exitCode}, signal ${child.signalCode})`,
        ),
      );
    });
  }).catch((err: Error) => {
    child.kill('SIGKILL');
    throw err;
  });
  log(`bullmq worker process ${child.pid} ready`);
  return {
    counters: () => ({ ...latest.counters }),
    busy: () => latest.busy,
    async close(timeoutMs) {
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ type: 'close', timeoutMs } satisfies ParentMessage);
        let timer: NodeJS.Timeout | undefined;
        const killed = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>(
            (resolve) => (timer = setTimeout(() => resolve(true), timeoutMs + STOP_GRACE_MS)),
          ),
        ]);
        clearTimeout(timer);
        if (killed) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      // A worker that did not report its drain is counted as having abandoned what it held.
      return closedReport ?? { drained: 0, abandoned: latest.counters.inFlight };
    },
  };
}

export async function createBullmqWorkerStrategy(ctx: StrategyContext): Promise<EmailStrategy> {
  const config: WorkerConfig = {
    redisUrl: bullmqUrl(ctx.options),
    queueName: ctx.options.dbName,
    bullmq: ctx.options.bullmq,
    smtp: ctx.options.smtp,
    drainTimeoutMs: ctx.options.drainTimeoutMs,
  };
  return createBullmqProducer(ctx, () => forkSendWorker(config, ctx.log));
}
