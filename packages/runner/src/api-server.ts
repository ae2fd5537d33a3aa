/** Forks the API's entry file (never imports its code) and waits for its IPC "ready". */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const API_ENTRY = fileURLToPath(import.meta.resolve('@mailbench/target-api/server'));

export interface ShutdownReport {
  drained: number;
  abandoned: number;
}

export interface ApiServer {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** Resolves when the process exits, however it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail(lines?: number): string;
  /** SIGTERM, wait for a graceful exit (SIGKILL after timeoutMs); the e-mail drain report if it sent one. */
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

export async function forkApiServer(args: string[], readyTimeoutMs = 30_000): Promise<ApiServer> {
  const child = fork(API_ENTRY, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  let shutdown: ShutdownReport | null = null;
  child.on('message', (m: { type?: string; drained?: number; abandoned?: number }) => {
    if (m.type === 'shutdown') shutdown = { drained: m.drained ?? 0, abandoned: m.abandoned ?? 0 };
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const tail = (lines = 20) => stderr.trimEnd().split('\n').slice(-lines).join('\n');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ServerStartError(`the API server did not report ready within ${readyTimeoutMs} ms`, tail()));
    }, readyTimeoutMs);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready' && typeof m.port === 'number') {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new ServerStartError(`the API server exited (code ${code}, signal ${signal}) before it was ready`, tail()));
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    port,
    url: `http://127.0.0.1:${port}`,
    exited,
    stderrTail: tail,
    async stop(timeoutMs) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      return shutdown;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
