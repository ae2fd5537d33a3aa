/**
 * The API process of one cell: forked fresh, watched (an exit nobody asked for ends the cell),
 * killed and restarted on the same port by the crash fault, stopped gracefully at the end.
 */
import type { ShutdownReport } from '@mailbench/target-api/contract';
import { forkApiServer, type ApiServer } from './api-server.ts';

export interface CrashRecord {
  killedAtEpochMs: number;
  downSec: number;
  killedPid: number;
  restartedPid: number;
}

export class CellServer {
  private current: ApiServer | null = null;
  private first: ApiServer | null = null;
  private readonly intentional = new Set<ApiServer>();
  /** Aborted when the server exits on its own: the cell cannot go on. */
  readonly gone = new AbortController();
  /** Why the server went away, and its last words. */
  failure: { error: string; stderrTail: string } | null = null;

  private readonly args: string[];
  private readonly onServer: (server: ApiServer | null) => void;

  constructor(args: string[], onServer: (server: ApiServer | null) => void) {
    this.args = args;
    this.onServer = onServer;
  }

  async start(): Promise<ApiServer> {
    const server = await forkApiServer(this.args);
    this.first = server;
    this.watch(server);
    return server;
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

  /** SIGKILL, then a new process at once on the same port and database, so the schedule finds it again. */
  async crash(): Promise<CrashRecord> {
    const victim = this.server;
    this.intentional.add(victim);
    const killedAtEpochMs = Date.now();
    victim.kill();
    await victim.exited;
    const args = this.args.map((a, k) => (this.args[k - 1] === '--port' ? String(victim.port) : a));
    const restarted = await forkApiServer(args);
    this.watch(restarted);
    return { killedAtEpochMs, downSec: (Date.now() - killedAtEpochMs) / 1000, killedPid: victim.pid, restartedPid: restarted.pid };
  }

  /** SIGTERM and wait (SIGKILL after the timeout); the server's report of the e-mails it drained. */
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
      this.failure = { error: `the API server exited during the cell (code ${code}, signal ${signal})`, stderrTail: server.stderrTail() };
      this.gone.abort();
    });
  }
}
