/**
 * The reference targets: the original experiment's own stack (targets/flask-seed: Flask and
 * mongoengine on gunicorn with gevent workers) and the Node/Express API it compared with
 * (targets/express-inline). The harness starts one fresh per cell, like its own API, on a free
 * port, the cell's database and the run's sink, and loads it through the external contract: no
 * /metrics and no failure reports (they are not ours to add), its users counted in the cell's
 * database. Each runs in a process group of its own (gunicorn's master and its workers), which
 * is what the harness signals when it stops it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request as httpRequest } from 'undici';
import type { VariantFacts } from '@mailbench/target-api/contract';
import { reachableHost, ServerStartError, type ApiServer } from './api-server.ts';
import { releaseProcess, watchProcess } from '../services/watchdog.ts';

const TARGETS_DIR = fileURLToPath(new URL('../../../../targets/', import.meta.url));

/** Debian's python3, into which the python3-* packages install (not necessarily the first on PATH). */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const SEED_PACKAGES = ['python3-flask', 'gunicorn', 'python3-gevent', 'python3-mongoengine', 'python3-pymongo'];
export const SEED_INSTALL_HINT = `pnpm setup:seed (as root; or: apt-get install -y ${SEED_PACKAGES.join(' ')})`;

export interface ReferenceSettings {
  /** gunicorn worker processes of the Flask target (the original: 20). */
  workers: number;
  /** gunicorn's worker class: gevent (the original; a greenlet per request, blocking I/O yields) or sync (one request at a time per worker). */
  workerClass: 'gevent' | 'sync';
  /** How the Flask target stores passwords: as given, or werkzeug's default hash. */
  passwordHash: 'none' | 'werkzeug';
  /** A sleep in the e-mail function before it connects (the original's delay), in ms. */
  emailDelayMs: number;
}

export interface ReferenceWiring {
  port: number;
  /** mongodb://host:port/DATABASE?… : the database is the cell's. */
  mongoUri: string;
  smtpHost: string;
  smtpPort: number;
}

interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

interface ReferenceEntry {
  /** The stack, a folder of targets/. */
  stack: 'flask-seed' | 'express-inline';
  facts: VariantFacts;
  launch(w: ReferenceWiring, s: ReferenceSettings): Launch;
}

const NOT_PROMISED = { promisesDelivery: false, mayDuplicate: false, sendsFromThreads: false, usesRedis: false } as const;

function flask(mode: 'no-email' | 'blocking' | 'thread') {
  return (w: ReferenceWiring, s: ReferenceSettings): Launch => ({
    command: DEBIAN_PYTHON,
    args: ['-m', 'gunicorn', '-k', s.workerClass, '-w', String(s.workers), '-b', `127.0.0.1:${w.port}`, '--chdir', `${TARGETS_DIR}flask-seed`, '--log-level', 'warning', 'app:app'],
    env: { MB_MONGO_URI: w.mongoUri, MB_SMTP_HOST: w.smtpHost, MB_SMTP_PORT: String(w.smtpPort), MB_EMAIL_MODE: mode, MB_EMAIL_DELAY_MS: String(s.emailDelayMs), MB_PASSWORD_HASH: s.passwordHash },
  });
}

export const REFERENCE_TARGETS = {
  'flask-no-email': {
    stack: 'flask-seed',
    facts: { ...NOT_PROMISED, sendsMail: false, repliesAfterSend: false, summary: 'the original: Flask + mongoengine on gunicorn (gevent), no e-mail' },
    launch: flask('no-email'),
  },
  'flask-blocking': {
    stack: 'flask-seed',
    facts: { ...NOT_PROMISED, sendsMail: true, repliesAfterSend: true, summary: 'the original: Flask, the e-mail sent in the request (smtplib, a connection per message)' },
    launch: flask('blocking'),
  },
  'flask-thread': {
    stack: 'flask-seed',
    facts: { ...NOT_PROMISED, sendsMail: true, repliesAfterSend: false, summary: 'the original: Flask, the e-mail sent from a background thread (a greenlet under gevent)' },
    launch: flask('thread'),
  },
  'express-inline': {
    stack: 'express-inline',
    facts: { ...NOT_PROMISED, sendsMail: true, repliesAfterSend: true, summary: "the original's Node API: express + mongoose, the e-mail sent inline (nodemailer, a connection per message)" },
    launch: (w, s) => ({
      command: process.execPath,
      args: [`${TARGETS_DIR}express-inline/server.mjs`],
      env: { MB_PORT: String(w.port), MB_MONGO_URI: w.mongoUri, MB_SMTP_HOST: w.smtpHost, MB_SMTP_PORT: String(w.smtpPort), MB_EMAIL_DELAY_MS: String(s.emailDelayMs) },
    }),
  },
} as const satisfies Record<string, ReferenceEntry>;

export type ReferenceName = keyof typeof REFERENCE_TARGETS;
export const REFERENCE_NAMES = Object.keys(REFERENCE_TARGETS) as ReferenceName[];

export function isReference(name: string): name is ReferenceName {
  return Object.hasOwn(REFERENCE_TARGETS, name);
}

/** Whether Debian's python3 can run the Flask target (its packages are installed); the missing modules otherwise. */
export function seedStackMissing(): string[] {
  const probe = spawnSync(DEBIAN_PYTHON, ['-c', 'import importlib.util as u, sys; print(" ".join(m for m in sys.argv[1:] if u.find_spec(m) is None))', 'flask', 'gunicorn', 'gevent', 'mongoengine', 'pymongo'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return ['python3'];
  return probe.stdout.trim().split(/\s+/).filter(Boolean);
}

/** The connection string with the cell's database as its path (mongoengine and mongoose take the database from there). */
export function withDatabase(uri: string, dbName: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]*)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!m) throw new Error(`not a MongoDB connection string: ${uri}`);
  return `${m[1]}/${dbName}${m[3] ?? ''}`;
}

/** Where a reference target of a cell (or a probe) finds its database and the run's sink. */
export function referenceWiring(mongoUri: string, dbName: string, sink: { host: string; port: number }): Omit<ReferenceWiring, 'port'> {
  return { mongoUri: withDatabase(mongoUri, dbName), smtpHost: reachableHost(sink.host), smtpPort: sink.port };
}

/** The versions of the reference stacks' parts, for the run's record (what is not installed is left out). */
export function referenceVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const probe = spawnSync(DEBIAN_PYTHON, ['-c', 'import sys; from importlib.metadata import version\nfor p in sys.argv[1:]:\n  try: print(p, version(p))\n  except Exception: pass', 'flask', 'werkzeug', 'gunicorn', 'gevent', 'mongoengine', 'pymongo'], { encoding: 'utf8' });
  if (!probe.error && probe.status === 0) {
    for (const line of probe.stdout.trim().split('\n')) {
      const [name, version] = line.split(' ');
      if (name && version) out[name] = version;
    }
    const py = spawnSync(DEBIAN_PYTHON, ['--version'], { encoding: 'utf8' });
    if (py.status === 0) out.python = py.stdout.trim().replace(/^Python /, '');
  }
  for (const name of ['express', 'mongoose', 'nodemailer']) {
    try {
      const file = fileURLToPath(new URL(`express-inline/node_modules/${name}/package.json`, pathToFileURL(TARGETS_DIR)));
      out[`${name} (express-inline)`] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      // not installed
    }
  }
  return out;
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
export async function spawnReference(name: ReferenceName, wiring: Omit<ReferenceWiring, 'port'>, settings: ReferenceSettings, readyTimeoutMs = 60_000): Promise<ApiServer> {
  const port = await freePort();
  const { command, args, env } = REFERENCE_TARGETS[name].launch({ ...wiring, port }, settings);
  const child = spawn(command, args, { env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
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
    if (dead) throw new ServerStartError(`${name} exited before it answered (${command} ${args.join(' ')})`, tail());
    if (Date.now() > deadline) {
      signalGroup(child, 'SIGKILL');
      throw new ServerStartError(`${name} did not answer GET /health within ${readyTimeoutMs / 1000} s`, tail());
    }
    try {
      const res = await httpRequest(`${url}/health`, { method: 'GET', headersTimeout: 2000, bodyTimeout: 2000 });
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
