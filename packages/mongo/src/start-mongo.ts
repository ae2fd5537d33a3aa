/**
 * startMongo(): a MongoDB for the benchmark, and an honest record of which one.
 *   1. MONGODB_URI (or `uri`): that server, pinged.
 *   2. mongodb-memory-server with a real mongod: a system binary (MONGOMS_SYSTEM_BINARY or
 *      `mongod` on PATH), a cached binary, or (only when allowed) a download.
 *   3. the wire-compatible stand-in, in a child process of its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';

export type MongoEngine = 'external' | 'mongod' | 'standin';
export type MongoChoice = 'auto' | 'mongod' | 'standin';
export const MONGO_CHOICES: readonly MongoChoice[] = ['auto', 'mongod', 'standin'];

export interface StartMongoOptions {
  /** A server to use; defaults to the MONGODB_URI environment variable. */
  uri?: string;
  /** Which engine to start when no uri is given. Default 'auto'. */
  engine?: MongoChoice;
  /**
   * Let mongodb-memory-server download a mongod (needs internet). Default:
   * MAILBENCH_MONGOD_DOWNLOAD=1.
   */
  allowDownload?: boolean;
  /** Receives the one-line notes (which engine serves, how to change it). Default: stderr. */
  log?: (line: string) => void;
  /** How long to wait for an external server. Default 5000 ms. */
  connectTimeoutMs?: number;
}

export interface MongoHandle {
  uri: string;
  engine: MongoEngine;
  /** Server version as reported by buildInfo (the stand-in says so in its version). */
  version: string;
  /** Process id of the server, when this handle started one. */
  pid: number | null;
  stop(): Promise<void>;
  /** Same as stop(), for the style of every other handle. */
  close(): Promise<void>;
}

export class MongoStartError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MongoStartError';
    this.code = code;
  }
}

const STANDIN_CLI = fileURLToPath(new URL('./standin/cli.ts', import.meta.url));

async function readVersion(uri: string, timeoutMs: number): Promise<string> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
  });
  try {
    await client.connect();
    const admin = client.db('admin');
    await admin.command({ ping: 1 });
    const info = await admin.command({ buildInfo: 1 });
    return (
      String(info.version ?? 'unknown') + (info.mailbenchStandin ? ' (mailbench stand-in)' : '')
    );
  } finally {
    await client.close();
  }
}

function redact(uri: string): string {
  return uri.replace(/\/\/([^@/]*)@/, '//***@');
}

async function useExternal(uri: string, timeoutMs: number): Promise<MongoHandle> {
  let version: string;
  try {
    version = await readVersion(uri, timeoutMs);
  } catch (err) {
    throw new MongoStartError(
      'ERR_MONGO_UNREACHABLE',
      `MongoDB at ${redact(uri)} did not answer within ${timeoutMs} ms (${(err as Error).message}). ` +
        'Check that the server runs and the URI is right, or unset MONGODB_URI to use an embedded engine.',
      { cause: err },
    );
  }
  const noop = async () => {};
  return { uri, engine: 'external', version, pid: null, stop: noop, close: noop };
}

function findOnPath(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, binary);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

const MONGOD_HELP =
  'Install MongoDB so that `mongod` is on PATH, set MONGOMS_SYSTEM_BINARY=/path/to/mongod, ' +
  'set MONGODB_URI to a running server, or allow a download with MAILBENCH_MONGOD_DOWNLOAD=1 (needs internet).';

async function startMongod(allowDownload: boolean): Promise<MongoHandle> {
  const systemBinary = process.env.MONGOMS_SYSTEM_BINARY ?? findOnPath('mongod') ?? undefined;
  // mongodb-memory-server reads its settings from the environment; pin the ones that make it fail
  // fast.
  const saved = {
    download: process.env.MONGOMS_RUNTIME_DOWNLOAD,
    retries: process.env.MONGOMS_MAX_RETRIES,
  };
  if (!allowDownload) process.env.MONGOMS_RUNTIME_DOWNLOAD = 'false';
  process.env.MONGOMS_MAX_RETRIES = '0';
  try {
    const { MongoBinary, MongoMemoryServer } = await import('mongodb-memory-server-core');
    // Resolve the binary first: it fails quietly and fast, where create() logs a stack trace.
    await MongoBinary.getPath(systemBinary ? { systemBinary } : {});
    const server = await MongoMemoryServer.create({
      instance: { ip: '127.0.0.1' },
      binary: systemBinary ? { systemBinary } : {},
    });
    const uri = server.getUri();
    const version = await readVersion(uri, 5000);
    const stop = async () => {
      await server.stop({ doCleanup: true, force: true });
    };
    return {
      uri,
      engine: 'mongod',
      version,
      pid: server.instanceInfo?.instance.mongodProcess?.pid ?? null,
      stop,
      close: stop,
    };
  } catch (err) {
    throw new MongoStartError(
      'ERR_MONGO_NO_MONGOD',
      `No mongod could be started (${(err as Error).message.split('\n')[0]}). ${MONGOD_HELP}`,
      { cause: err },
    );
  } finally {
    if (saved.download === undefined) delete process.env.MONGOMS_RUNTIME_DOWNLOAD;
    else process.env.MONGOMS_RUNTIME_DOWNLOAD = saved.download;
    if (saved.retries === undefined) delete process.env.MONGOMS_MAX_RETRIES;
    else process.env.MONGOMS_MAX_RETRIES = saved.retries;
  }
}

/** Forks the stand-in in its own process so it never shares an event loop with the API or load. */
export async function startStandin(): Promise<MongoHandle> {
  const child: ChildProcess = fork(STANDIN_CLI, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const ready = once(child, 'message') as Promise<[{ type: string; uri: string; version: string }]>;
  const exited = once(child, 'exit').then(([code]) => {
    throw new MongoStartError(
      'ERR_MONGO_STANDIN_FAILED',
      `the MongoDB stand-in exited with code ${String(code)} before it was ready:\n${stderr}`,
    );
  });
  const [message] = await Promise.race([ready, exited]);
  exited.catch(() => {});
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(timer);
  };
  return {
    uri: message.uri,
    engine: 'standin',
    version: message.version,
    pid: child.pid ?? null,
    stop,
    close: stop,
  };
}

export async function startMongo(options: StartMongoOptions = {}): Promise<MongoHandle> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const uri = options.uri ?? process.env.MONGODB_URI;
  const choice = options.engine ?? 'auto';
  if (!MONGO_CHOICES.includes(choice)) {
    throw new MongoStartError(
      'ERR_MONGO_CHOICE_INVALID',
      `unknown MongoDB engine "${String(choice)}"; use one of ${MONGO_CHOICES.join(', ')}`,
    );
  }
  if (uri) {
    const handle = await useExternal(uri, options.connectTimeoutMs ?? 5000);
    log(`[mongo] using the server at ${redact(uri)} (MongoDB ${handle.version})`);
    return handle;
  }
  const allowDownload = options.allowDownload ?? process.env.MAILBENCH_MONGOD_DOWNLOAD === '1';
  if (choice === 'mongod') {
    const handle = await startMongod(allowDownload);
    log(`[mongo] using mongod ${handle.version} from mongodb-memory-server`);
    return handle;
  }
  if (choice === 'auto') {
    try {
      const handle = await startMongod(allowDownload);
      log(`[mongo] using mongod ${handle.version} from mongodb-memory-server`);
      return handle;
    } catch (err) {
      if (!(err instanceof MongoStartError)) throw err;
    }
  }
  const handle = await startStandin();
  log(
    `[mongo] no mongod here: using the mailbench stand-in (a wire-compatible in-memory server, pid ${handle.pid}). ` +
      'For a real mongod: set MONGODB_URI, or MONGOMS_SYSTEM_BINARY=/path/to/mongod, or put mongod on PATH.',
  );
  return handle;
}
