import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { findRedisServer, RedisStartError, startRedis } from '../src/index.ts';

const required = process.env.MAILBENCH_REQUIRE_ENGINES === '1';
const installed = findRedisServer() !== null;

describe('startRedis', () => {
  it.skipIf(!installed && !required)(
    'starts redis-server on a loopback port with the production settings, and stops it',
    async () => {
      const redis = await startRedis({ env: { PATH: process.env.PATH } });
      let pid: number | null = null;
      try {
        expect(redis.engine).toBe('redis-server');
        expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
        expect(redis.version).toMatch(/^\d+\.\d+/);
        expect(redis.persistence).toEqual({
          appendonly: 'yes',
          appendfsync: 'everysec',
          save: '',
          maxmemoryPolicy: 'noeviction',
        });
        pid = redis.pid;
        const client = new Redis(redis.url);
        expect(await client.set('k', 'v')).toBe('OK');
        expect(await client.get('k')).toBe('v');
        client.disconnect();
      } finally {
        await redis.stop();
      }
      expect(pid).not.toBeNull();
      expect(() => process.kill(pid as number, 0)).toThrow();
    },
  );

  it.skipIf(!installed && !required)(
    'takes REDIS_URL as an external server and leaves it running',
    async () => {
      const own = await startRedis({ env: { PATH: process.env.PATH } });
      try {
        const external = await startRedis({ env: { REDIS_URL: own.url } });
        expect(external.engine).toBe('external');
        expect(external.pid).toBeNull();
        await external.stop();
        const client = new Redis(own.url);
        expect(await client.ping()).toBe('PONG');
        client.disconnect();
      } finally {
        await own.stop();
      }
    },
  );

  it('without redis-server or REDIS_URL: a clear error with the install command', async () => {
    const err = await startRedis({ env: { PATH: '/nonexistent' } }).catch((e: unknown) => e);
    // Debian's own path is looked at too, so where redis-server is installed this starts one.
    if (findRedisServer({ PATH: '/nonexistent' }) !== null) {
      expect(err).not.toBeInstanceOf(Error);
      await (err as { stop(): Promise<void> }).stop();
      return;
    }
    expect(err).toBeInstanceOf(RedisStartError);
    expect((err as RedisStartError).code).toBe('ERR_REDIS_NOT_INSTALLED');
    expect((err as Error).message).toContain('apt-get install -y redis-server');
  });

  it('an unreachable REDIS_URL is named in the error', async () => {
    const err = (await startRedis({ env: { REDIS_URL: 'redis://127.0.0.1:1' } }).catch(
      (e: unknown) => e,
    )) as RedisStartError;
    expect(err).toBeInstanceOf(RedisStartError);
    expect(err.code).toBe('ERR_REDIS_UNREACHABLE');
    expect(err.message).toContain('127.0.0.1:1');
  });
});
