/**
 * The reference targets started and stopped (config/references.ts says what each is): the
 * original's stack (Flask and
 * mongoengine on gunicorn with gevent workers) and the Node/Express API it compared with
 * (targets/express-inline). The harness starts one fresh per cell, like its own API, on a free
 * port, the cell's database and the run's sink, and loads it through the external contract: no
 * /metrics and no failure reports (they are not ours to add), its users counted in the cell's
 * database. Each runs in a process group of its own (gunicorn's master and its workers), which
 * is what the harness signals when it stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { request as httpRequest } from 'undici';
import { reachableHost, ServerStartError, type ApiServer } from './api-server.ts';
import { releaseProcess, watchProcess } from '../services/watchdog.ts';
import { REFERENCE_TARGETS, type ReferenceWiring } from '../config/references.ts';
import type { ReferenceSettings, ReferenceName } from '../shapes/scenario.ts';

/**
 * The connection string with the cell's database as its path (mongoengine and mongoose take the
 * database from there).
 */
export function withDatabase(uri: string, dbName: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]*)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!m) throw new Error(`not a MongoDB connection string: ${uri}`);
  return `${m[1]}/${dbName}${m[3] ?? ''}`;
}

/** Where a reference target of a cell (or a probe) finds its database and the run's sink. */
export function referenceWiring(
  mongoUri: string,
  dbName: string,
  sink: { host: string; port: number },
): Omit<ReferenceWiring, 'port'> {
  return {
    mongoUri: withDatabase(mongoUri, dbName),
    smtpHost: reachableHost(sink.host),
    smtpPort: sink.port,
  };
}

/** A port free on the loopback interface now (for a process that binds it next). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Signals the target's whole process group (gunicorn's master and workers): while its leader
 * runs, or, with `evenAfterExit`, whatever the group still holds once the leader has gone.
 */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals, evenAfterExit = false): void {
  if (child.pid === undefined) return;
  if (!evenAfterExit && (child.exitCode !== null || child.signalCode !== null)) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts a reference target on a free port and waits until it answers GET /health (gunicorn
 * binds before its workers import the app: a connection refused or a 5xx means not yet).
 */
export async function spawnReference(
  name: ReferenceName,
  wiring: Omit<ReferenceWiring, 'port'>,
  settings: ReferenceSettings,
  cores: number[] | null = null,
  readyTimeoutMs = 60_000,
): Promise<ApiServer> {
  const port = await freePort();
  const launch = REFERENCE_TARGETS[name].launch({ ...wiring, port }, settings);
  // --pin-cores: taskset starts the target on its cores, and the workers it forks inherit them.
  const { command, args } = cores
    ? { command: 'taskset', args: ['-c', cores.join(','), launch.command, ...launch.args] }
    : launch;
  const env = launch.env;
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  watchProcess(child.pid, true);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      releaseProcess(child.pid, true);
      resolve({ code, signal });
    });
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const tail = (lines = 20) => stderr.trimEnd().split('\n').slice(-lines).join('\n');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  let dead = false;
  void exited.then(() => (dead = true));
  for (;;) {
    if (dead)
      throw new ServerStartError(
        `${name} exited before it answered (${command} ${args.join(' ')})`,
        tail(),
      );
    if (Date.now() > deadline) {
      signalGroup(child, 'SIGKILL');
      throw new ServerStartError(
        `${name} did not answer GET /health within ${readyTimeoutMs / 1000} s`,
        tail(),
      );
    }
    try {
      const res = await httpRequest(`${url}/health`, {
        method: 'GET',
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    pid: child.pid ?? -1,
    port,
    url,
    exited,
    stderrTail: tail,
    async stop(timeoutMs) {
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
      // gunicorn's workers leave with their master; anything left in the group goes now.
      signalGroup(child, 'SIGKILL', true);
      return null;
    },
    kill() {
      signalGroup(child, 'SIGKILL', true);
    },
  };
}
