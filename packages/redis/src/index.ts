/**
 * The Redis server of the bullmq variant: REDIS_URL when given, else Debian's `redis-server`
 * started on a free loopback port in a temporary directory, configured as BullMQ's production
 * guide asks (append-only file fsynced every second, no eviction). Its settings are recorded,
 * since they decide what a Redis crash loses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';

export type RedisEngine = 'external' | 'redis-server';

export interface RedisPersistence {
  appendonly: string;
  appendfsync: string;
  save: string;
  maxmemoryPolicy: string;
}

export interface RedisHandle {
  url: string;
  engine: RedisEngine;
  version: string;
  /** As the server reports it (CONFIG GET), or null when it refuses CONFIG. */
  persistence: RedisPersistence | null;
  pid: number | null;
  /** The data folder of a redis-server of our own (removed by stop()), or null. */
  dir: string | null;
  stop(): Promise<void>;
}

export class RedisStartError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'RedisStartError';
    this.code = code;
  }
}

/** How to get redis-server on this machine's Debian. */
export const REDIS_INSTALL_HINT =
  'apt-get install -y redis-server   (Debian; or set REDIS_URL to a running server)';

/** The redis-server binary: on PATH, or where Debian puts it; null when there is none. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [
    ...(env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/bin',
    '/usr/sbin',
    '/usr/local/bin',
  ];
  for (const dir of dirs) {
    const candidate = join(dir, 'redis-server');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Version and persistence settings, read over the wire. */
async function describe(
  url: string,
): Promise<{ version: string; persistence: RedisPersistence | null }> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: () => null,
  });
  // The failure is the connect() rejection below; the event would only repeat it.
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    let persistence: RedisPersistence | null = null;
    try {
      const get = async (key: string) => ((await client.config('GET', key)) as string[])[1] ?? '';
      persistence = {
        appendonly: await get('appendonly'),
        appendfsync: await get('appendfsync'),
        save: await get('save'),
        maxmemoryPolicy: await get('maxmemory-policy'),
      };
    } catch {
      // Managed servers may refuse CONFIG.
    }
    return { version, persistence };
  } finally {
    client.disconnect();
  }
}

/**
 * REDIS_URL (or `url`) when given; otherwise a redis-server of our own, or RedisStartError
 * ERR_REDIS_NOT_INSTALLED.
 */
export interface StartRedisOptions {
  url?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Told of a redis-server of our own the moment it is spawned (its pid and data folder), before it
   * is ready.
   */
  onSpawn?: (server: { pid: number; dir: string }) => void;
}

/** A Redis the harness did not start (REDIS_URL), described. */
async function external(url: string): Promise<RedisHandle> {
  try {
    const { version, persistence } = await describe(url);
    return {
      url,
      engine: 'external',
      version,
      persistence,
      pid: null,
      dir: null,
      stop: async () => {},
    };
  } catch (err) {
    throw new RedisStartError(
      'ERR_REDIS_UNREACHABLE',
      `cannot reach Redis at ${url.replace(/\/\/\S*@/, '//***@')}: ${(err as Error).message}`,
    );
  }
}

/**
 * Settles when redis-server says it is ready; rejects, with its last output, when it exits or takes
 * over 10 s.
 */
function readyOf(child: ChildProcess): Promise<void> {
  let output = '';
  return new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      if (output.includes('Ready to accept connections')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(
        new RedisStartError(
          'ERR_REDIS_FAILED',
          `redis-server exited with code ${String(code)} before it was ready:\n${output}`,
        ),
      ),
    );
    child.once('error', (err) =>
      reject(
        new RedisStartError('ERR_REDIS_FAILED', `redis-server could not start: ${err.message}`),
      ),
    );
    setTimeout(
      () =>
        reject(
          new RedisStartError(
            'ERR_REDIS_FAILED',
            `redis-server was not ready within 10 s:\n${output}`,
          ),
        ),
      10_000,
    ).unref();
  });
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const env = options.env ?? process.env;
  const url = options.url ?? env.REDIS_URL;
  if (url) return external(url);
  const binary = findRedisServer(env);
  if (!binary)
    throw new RedisStartError(
      'ERR_REDIS_NOT_INSTALLED',
      `redis-server is not installed; install it with: ${REDIS_INSTALL_HINT}`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'mailbench-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--logfile',
    '',
  ];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid) options.onSpawn?.({ pid: child.pid, dir });
  const ready = readyOf(child);
  // A runner that dies must not leave the server behind.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
    const url = `redis://127.0.0.1:${port}`;
    const { version, persistence } = await describe(url);
    return { url, engine: 'redis-server', version, persistence, pid: child.pid ?? null, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** redis-server's version from the binary, without starting it; null when not installed. */
export function redisServerVersion(env: NodeJS.ProcessEnv = process.env): string | null {
  const binary = findRedisServer(env);
  if (!binary) return null;
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? null;
}
