/**
 * Forks the API's entry file (never imports its server code) with flags built by the API's own
 * contract, and waits for its IPC "ready".
 */
import { fork, type ChildProcess } from 'node:child_process';
import { pinningPlan, pinProcess } from '../services/pinning.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpRequest } from 'undici';
import { bundleForNode } from '@mailbench/loadgen';
import type { SmtpSink } from '@mailbench/smtp-sink';
import {
  readMailFailures,
  readMetrics,
  readServerMessage,
  toServerCommand,
  variantFacts,
  type MailFailure,
  type MetricsResponse,
  type ShutdownReport,
  type Variant,
} from '@mailbench/target-api/contract';
import { releaseProcess, watchProcess } from '../services/watchdog.ts';
import type { Scenario } from '../shapes/scenario.ts';

export const API_ENTRY = fileURLToPath(import.meta.resolve('@mailbench/target-api/server'));

let compiled: Promise<string> | null = null;

/**
 * The API as it is measured: its entry file and its worker thread and worker process bundled into
 * JavaScript (target-api/dist), once per process and afresh, so never older than the source; no
 * TypeScript loader on the measured path. MAILBENCH_LOADER=tsx forks the source through tsx
 * instead, to compare the two.
 */
export function apiEntry(): Promise<{ file: string; execArgv: string[] }> {
  if (process.env.MAILBENCH_LOADER === 'tsx')
    return Promise.resolve({ file: API_ENTRY, execArgv: ['--import', 'tsx'] });
  const entry = (name: string) =>
    fileURLToPath(import.meta.resolve(`@mailbench/target-api/${name}`));
  compiled ??= bundleForNode(
    {
      server: API_ENTRY,
      'mail-worker': entry('mail-worker'),
      'bullmq-worker-process': entry('bullmq-worker-process'),
    },
    path.join(path.dirname(API_ENTRY), '..', 'dist'),
  ).then(
    (files) => files.server as string,
    (err: Error) => {
      compiled = null;
      throw new ServerStartError(`could not bundle the API for measurement: ${err.message}`, '');
    },
  );
  return compiled.then((file) => ({ file, execArgv: [] }));
}

export interface ApiServer {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** Resolves when the process exits, however it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail(lines?: number): string;
  /**
   * SIGTERM, wait for a graceful exit (SIGKILL after timeoutMs); the e-mail drain report if it sent
   * one.
   */
  stop(timeoutMs: number): Promise<ShutdownReport | null>;
  /** SIGKILL at once. */
  kill(): void;
}

export class ServerStartError extends Error {
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    super(message);
    this.stderr = stderr;
  }
}

/** Where the API of a cell finds its database and SMTP server. */
export interface ApiWiring {
  mongoUri: string;
  dbName: string;
  sink: Pick<SmtpSink, 'host' | 'port'>;
  /** The run's Redis, for the variants that need one. */
  redisUrl?: string | null;
  /** 0 (the default) lets the system pick a free port. */
  port?: number;
}

/**
 * Where a client reaches a server listening on `host`: a sink listening on every interface, at the
 * loopback address.
 */
export function reachableHost(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
}

/** How to start the API: its flags, and the environment that carries its connection strings. */
export interface ApiCommand {
  args: string[];
  env: Record<string, string>;
  /** --pin-cores: the cores the API runs on (null: wherever the OS puts it). */
  cores?: number[] | null;
}

/**
 * The API's command for one variant of a scenario: everything the scenario sets, the rest left to
 * the API's defaults.
 */
export function apiCommand(scenario: Scenario, variant: Variant, wiring: ApiWiring): ApiCommand {
  const command = toServerCommand({
    port: wiring.port ?? 0,
    app: {
      variant,
      mongoUri: wiring.mongoUri,
      dbName: wiring.dbName,
      smtp: {
        host: reachableHost(wiring.sink.host),
        port: wiring.sink.port,
        transport: scenario.transport.mode,
        maxConnections: scenario.transport.maxConnections,
        maxMessages: scenario.transport.maxMessages,
        sendTimeoutMs: scenario.transport.sendTimeoutMs,
      },
      hashCost: scenario.hashCost,
      workerPool: scenario.workerPool,
      outbox: scenario.outbox,
      // Unset concurrencies follow the connection budget in the API.
      agenda: {
        processEveryMs: scenario.agenda.processEveryMs,
        lockLifetimeMs: scenario.agenda.lockLifetimeMs,
        ...(scenario.agenda.concurrency !== null
          ? { concurrency: scenario.agenda.concurrency }
          : {}),
      },
      bullmq: {
        attempts: scenario.bullmq.attempts,
        backoffMs: scenario.bullmq.backoffMs,
        lockMs: scenario.bullmq.lockMs,
        ...(scenario.bullmq.concurrency !== null
          ? { concurrency: scenario.bullmq.concurrency }
          : {}),
      },
      ...(wiring.redisUrl && variantFacts(variant).usesRedis ? { redisUrl: wiring.redisUrl } : {}),
      drainTimeoutMs: Math.max(1000, Math.round(scenario.drainTimeoutSec * 1000)),
    },
  });
  return { ...command, cores: scenario.pinCores ? pinningPlan().api : null };
}

/** GET a JSON body; null when the server does not answer (it may be restarting). */
async function getJson(url: string): Promise<{ body: unknown } | null> {
  try {
    const res = await httpRequest(url, { headersTimeout: 2000, bodyTimeout: 2000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return null;
    }
    return { body: await res.body.json() };
  } catch {
    return null;
  }
}

/**
 * GET /metrics, checked against the contract; null when the server does not answer. Only the
 * sampler passes resetWindow: the event-loop and CPU windows are its one-second windows.
 */
export async function fetchMetrics(
  url: string,
  resetWindow = false,
): Promise<MetricsResponse | null> {
  const got = await getJson(`${url}/metrics${resetWindow ? '?reset=window' : ''}`);
  return got ? readMetrics(got.body) : null;
}

/**
 * GET /mail/failures: every e-mail the serving process gave up on; null when the server does not
 * answer.
 */
export async function fetchMailFailures(url: string): Promise<MailFailure[] | null> {
  const got = await getJson(`${url}/mail/failures`);
  return got ? readMailFailures(got.body) : null;
}

export async function forkApiServer(
  command: ApiCommand,
  readyTimeoutMs = 30_000,
): Promise<ApiServer> {
  const { file, execArgv } = await apiEntry();
  const child = fork(file, command.args, {
    execArgv,
    env: { ...process.env, ...command.env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    // A process group of its own, with what it starts (bullmq's worker process): the watchdog
    // ends the group if the runner dies; a crash fault still kills the API alone.
    detached: true,
  });
  watchProcess(child.pid, true);
  // Pinned at once, so that the threads it starts inherit its cores, and again once ready.
  if (command.cores) pinProcess(child.pid, command.cores);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  let shutdown: ShutdownReport | null = null;
  child.on('message', (m) => {
    const message = readServerMessage(m);
    if (message?.type === 'shutdown') {
      const { type: _type, ...report } = message;
      shutdown = report;
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      releaseProcess(child.pid, true);
      resolve({ code, signal });
    });
  });
  const tail = (lines = 20) => stderr.trimEnd().split('\n').slice(-lines).join('\n');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new ServerStartError(
          `the API server did not report ready within ${readyTimeoutMs} ms`,
          tail(),
        ),
      );
    }, readyTimeoutMs);
    child.on('message', (m) => {
      const message = readServerMessage(m);
      if (message?.type === 'ready') {
        clearTimeout(timer);
        resolve(message.port);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new ServerStartError(
          `the API server exited (code ${code}, signal ${signal}) before it was ready`,
          tail(),
        ),
      );
    });
  });
  if (command.cores) pinProcess(child.pid, command.cores);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid ?? -1,
    port,
    url: `http://127.0.0.1:${port}`,
    exited,
    stderrTail: tail,
    async stop(timeoutMs) {
      if (alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      return shutdown;
    },
    kill() {
      if (alive()) child.kill('SIGKILL');
    },
  };
}
