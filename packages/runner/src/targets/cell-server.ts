/**
 * What a cell sends its load to. Usually the API process of the cell (CellServer): forked fresh,
 * watched (an exit nobody asked for ends the cell), killed and restarted on the same port by the
 * crash fault, stopped gracefully at the end. Or an API the harness did not start
 * (ExternalTarget): only its HTTP contract, no metrics, no failure reports, no crash. Or a
 * reference target (ReferenceTarget): started and stopped per cell, but otherwise like an external
 * one.
 */
import { UsageError } from '../shapes/errors.ts';
import { request as httpRequest } from 'undici';
import type { MailFailure, MetricsResponse, ShutdownReport } from '@mailbench/target-api/contract';
import {
  fetchMailFailures,
  fetchMetrics,
  forkApiServer,
  type ApiCommand,
  type ApiServer,
} from './api-server.ts';

export interface CellTarget {
  /**
   * Whether the harness owns the process: /metrics, /mail/failures, a graceful stop and a crash
   * exist.
   */
  readonly owned: boolean;
  /** Aborted when the target is gone: the cell cannot go on. */
  readonly gone: AbortController;
  /** Why the target went away, and its last words. */
  readonly failure: { error: string; stderrTail: string } | null;
  /** True once a crash replaced the process that was started (its counters began again at zero). */
  readonly restarted: boolean;
  /** Where requests go now. */
  readonly url: string;
  /** Starts (or checks) the target; the process id when the harness started it. */
  start(): Promise<number | null>;
  /**
   * The server's /metrics (resetWindow: the sampler's one-second windows); null when there are
   * none.
   */
  metrics(resetWindow?: boolean): Promise<MetricsResponse | null>;
  /** What the server reports it gave up on; null when it does not say. */
  mailFailures(): Promise<MailFailure[] | null>;
  crash(): Promise<CrashRecord>;
  /** Ends the cell from outside (a fault that could not be carried out). */
  fail(error: string): void;
  stop(timeoutMs: number): Promise<ShutdownReport | null>;
  dispose(): Promise<void>;
  stderrTail(): string | null;
}

export interface CrashRecord {
  killedAtEpochMs: number;
  downSec: number;
  killedPid: number;
  restartedPid: number;
}

export class CellServer implements CellTarget {
  readonly owned = true;
  private current: ApiServer | null = null;
  private first: ApiServer | null = null;
  private readonly intentional = new Set<ApiServer>();
  /** Aborted when the server exits on its own: the cell cannot go on. */
  readonly gone = new AbortController();
  /** Why the server went away, and its last words. */
  failure: { error: string; stderrTail: string } | null = null;

  private readonly command: ApiCommand;
  private readonly onServer: (server: ApiServer | null) => void;

  constructor(command: ApiCommand, onServer: (server: ApiServer | null) => void) {
    this.command = command;
    this.onServer = onServer;
  }

  async start(): Promise<number> {
    const server = await forkApiServer(this.command);
    this.first = server;
    this.watch(server);
    return server.pid;
  }

  get url(): string {
    return this.server.url;
  }

  async metrics(resetWindow = false): Promise<MetricsResponse | null> {
    return this.current ? fetchMetrics(this.current.url, resetWindow) : null;
  }

  async mailFailures(): Promise<MailFailure[] | null> {
    return this.current ? fetchMailFailures(this.current.url) : null;
  }

  stderrTail(): string | null {
    return this.current?.stderrTail() ?? null;
  }

  /** Ends the cell from outside (a fault that could not be carried out). */
  fail(error: string): void {
    this.failure ??= { error, stderrTail: this.current?.stderrTail() ?? '' };
    this.gone.abort();
  }

  /** The process serving now. */
  get server(): ApiServer {
    if (!this.current) throw new Error('the cell has no API server running');
    return this.current;
  }

  get running(): ApiServer | null {
    return this.current;
  }

  /** True once a crash replaced the process that was started (its counters began again at zero). */
  get restarted(): boolean {
    return this.current !== this.first;
  }

  /**
   * SIGKILL, then a new process at once on the same port and database, so the schedule finds it
   * again.
   */
  async crash(): Promise<CrashRecord> {
    const victim = this.server;
    this.intentional.add(victim);
    const killedAtEpochMs = Date.now();
    victim.kill();
    await victim.exited;
    const args = this.command.args.map((a, k, all) =>
      all[k - 1] === '--port' ? String(victim.port) : a,
    );
    const restarted = await forkApiServer({ ...this.command, args });
    this.watch(restarted);
    return {
      killedAtEpochMs,
      downSec: (Date.now() - killedAtEpochMs) / 1000,
      killedPid: victim.pid,
      restartedPid: restarted.pid,
    };
  }

  /**
   * SIGTERM and wait (SIGKILL after the timeout); the server's report of the e-mails it drained.
   */
  async stop(timeoutMs: number): Promise<ShutdownReport | null> {
    const server = this.server;
    this.intentional.add(server);
    return server.stop(timeoutMs);
  }

  /** Ends whatever still runs (SIGKILL), for the end of a cell however it ended. */
  async dispose(): Promise<void> {
    const server = this.current;
    if (server) {
      this.intentional.add(server);
      server.kill();
      await server.exited;
    }
    this.onServer(null);
  }

  private watch(server: ApiServer): void {
    this.current = server;
    this.onServer(server);
    void server.exited.then(({ code, signal }) => {
      if (this.intentional.has(server)) return;
      this.failure = {
        error: `the API server exited during the cell (code ${code}, signal ${signal})`,
        stderrTail: server.stderrTail(),
      };
      this.gone.abort();
    });
  }
}

/**
 * An API the harness did not start: checked to answer HTTP at the start, then only loaded. It
 * has no metrics or failure reports the harness can read, and it cannot be crashed or stopped.
 */
/**
 * --target, reached once before the first cell: an API that does not answer is a start-up error
 * (exit 2), not a run of failed cells.
 */
export async function reachTarget(url: string): Promise<void> {
  try {
    await new ExternalTarget(url).start();
  } catch (err) {
    throw new UsageError('ERR_TARGET_UNREACHABLE', `--target: ${(err as Error).message}`);
  }
}

export class ExternalTarget implements CellTarget {
  readonly owned = false;
  readonly gone = new AbortController();
  failure: { error: string; stderrTail: string } | null = null;
  readonly restarted = false;
  readonly url: string;

  constructor(url: string) {
    this.url = url.replace(/\/$/, '');
  }

  /** Any HTTP answer will do; no answer within 5 s ends the cell with the reason. */
  async start(): Promise<null> {
    try {
      const res = await httpRequest(this.url, {
        method: 'GET',
        headersTimeout: 5000,
        bodyTimeout: 5000,
      });
      await res.body.dump();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(
        `the target ${this.url} does not answer HTTP (${e.code ?? e.message}); is it running, and is --target its base URL?`,
      );
    }
    return null;
  }

  async metrics(): Promise<null> {
    return null;
  }

  async mailFailures(): Promise<null> {
    return null;
  }

  async crash(): Promise<CrashRecord> {
    throw new Error(
      'a crash fault needs a process the harness owns; an external target is not one',
    );
  }

  fail(error: string): void {
    this.failure ??= { error, stderrTail: '' };
    this.gone.abort();
  }

  async stop(): Promise<null> {
    return null;
  }

  async dispose(): Promise<void> {}

  stderrTail(): null {
    return null;
  }
}

/**
 * A reference target (reference-targets.ts): a process the harness starts fresh for the cell and
 * stops after it, but not its own API: no metrics, no failure reports, no crash. Its mail is
 * waited for by quiet, like an external target's; its users are counted in the cell's database.
 */
export class ReferenceTarget implements CellTarget {
  readonly owned = false;
  readonly gone = new AbortController();
  failure: { error: string; stderrTail: string } | null = null;
  readonly restarted = false;
  private current: ApiServer | null = null;
  private stopping = false;
  private readonly launch: () => Promise<ApiServer>;
  private readonly onServer: (server: ApiServer | null) => void;

  constructor(launch: () => Promise<ApiServer>, onServer: (server: ApiServer | null) => void) {
    this.launch = launch;
    this.onServer = onServer;
  }

  get url(): string {
    if (!this.current) throw new Error('the reference target is not running');
    return this.current.url;
  }

  async start(): Promise<number> {
    const server = await this.launch();
    this.current = server;
    this.onServer(server);
    void server.exited.then(({ code, signal }) => {
      if (this.stopping) return;
      this.failure = {
        error: `the reference target exited during the cell (code ${code}, signal ${signal})`,
        stderrTail: server.stderrTail(),
      };
      this.gone.abort();
    });
    return server.pid;
  }

  async metrics(): Promise<null> {
    return null;
  }

  async mailFailures(): Promise<null> {
    return null;
  }

  async crash(): Promise<CrashRecord> {
    throw new Error("a crash fault restarts mailbench's own API; a reference target is not one");
  }

  fail(error: string): void {
    this.failure ??= { error, stderrTail: this.current?.stderrTail() ?? '' };
    this.gone.abort();
  }

  async stop(timeoutMs: number): Promise<null> {
    this.stopping = true;
    await this.current?.stop(timeoutMs);
    return null;
  }

  async dispose(): Promise<void> {
    this.stopping = true;
    const server = this.current;
    if (server) {
      server.kill();
      await server.exited;
    }
    this.onServer(null);
  }

  stderrTail(): string | null {
    return this.current?.stderrTail() ?? null;
  }
}
