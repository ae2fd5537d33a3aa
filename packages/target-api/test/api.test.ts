import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import type { MongoHandle } from '@mailbench/mongo';
import { findRedisServer, startRedis, type RedisHandle } from '@mailbench/redis';
import {
  backoffMs,
  BODY_LIMIT_BYTES,
  hashPassword,
  parseServerArgs,
  readMetrics,
  resolveOptions,
  toServerCommand,
  verifyPassword,
  VARIANTS,
  variantFacts,
  type Variant,
} from '../src/index.ts';
import { Metrics } from '../src/metrics.ts';
import {
  countUsers,
  linkOf,
  signupBody,
  startDatabase,
  startStack,
  type TestStack,
} from './helpers.ts';

let mongo: MongoHandle;
let redis: RedisHandle | null = null;
const stacks: TestStack[] = [];
// CI installs redis-server and requires it; elsewhere the bullmq tests skip without it.
const haveRedis = Boolean(
  process.env.REDIS_URL || findRedisServer() || process.env.MAILBENCH_REQUIRE_ENGINES === '1',
);

beforeAll(async () => {
  mongo = await startDatabase();
  if (haveRedis) redis = await startRedis();
});
afterAll(async () => {
  await mongo?.stop();
  await redis?.stop();
});

/** What each variant needs beyond the defaults to deliver within a test's patience. */
function quickOptions(variant: string): object {
  if (variant === 'outbox') return { outbox: { pollMs: 100 } };
  if (variant === 'agenda') return { agenda: { processEveryMs: 100 } };
  if (variantFacts(variant as Variant).usesRedis) return { redisUrl: redis?.url };
  return {};
}
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

async function stack(
  ...args: Parameters<typeof startStack> extends [unknown, ...infer R] ? R : never
): Promise<TestStack> {
  const s = await startStack(mongo, ...args);
  stacks.push(s);
  return s;
}

describe('sign-up: every variant', () => {
  for (const variant of VARIANTS) {
    it.skipIf(variantFacts(variant).usesRedis && !haveRedis)(
      `${variant}: one sign-up, ${variant === 'no-email' ? 'no e-mail' : 'exactly one e-mail with a working confirmation link'}`,
      async () => {
        const s = await stack(variant, {}, quickOptions(variant));
        const res = await s.app.inject({
          method: 'POST',
          url: '/api/users',
          payload: signupBody('one'),
        });
        expect(res.statusCode).toBe(201);
        const body = res.json() as { id: string; emailStatus: string };
        expect(body.id).toMatch(/^[0-9a-f]{24}$/);
        expect(body.emailStatus).toBe(
          {
            'no-email': 'none',
            inline: 'sent',
            background: 'queued',
            'worker-pool': 'queued',
            outbox: 'queued',
            agenda: 'queued',
            bullmq: 'queued',
            'bullmq-worker': 'queued',
          }[variant],
        );
        if (variant === 'no-email') {
          await new Promise((r) => setTimeout(r, 300));
          expect(s.sink.stats().messages.accepted).toBe(0);
          return;
        }
        await s.sink.waitFor(1, { timeoutMs: 10_000 });
        await new Promise((r) => setTimeout(r, 200)); // a second copy would show up here
        const records = s.sink.records();
        expect(records.length).toBe(1);
        const [record] = records;
        expect(record?.recipients).toEqual(['userone@example.test']);
        expect(record?.registrationId).toBe(body.id);
        expect(record?.messageId).toMatch(new RegExp(`^<${body.id}\\.`));
        expect(record?.headers).toMatch(/Content-Type: multipart\/alternative/i);
        const link = linkOf(record!);
        const confirm = await s.app.inject({
          method: 'GET',
          url: `${link.pathname}${link.search}`,
        });
        expect(confirm.statusCode).toBe(200);
        expect(confirm.json()).toEqual({ id: body.id, confirmed: true });
        expect(await countUsers(mongo, s.dbName, { confirmedAt: { $ne: null } })).toBe(1);
      },
    );
  }

  it('an unknown confirmation token is 404', async () => {
    const s = await stack('no-email');
    const res = await s.app.inject({ method: 'GET', url: '/api/users/confirm?token=nope' });
    expect(res.statusCode).toBe(404);
    expect((await s.app.inject({ method: 'GET', url: '/api/users/confirm' })).statusCode).toBe(400);
  });
});

describe('when the reply is sent', () => {
  it('inline answers only after the sink accepted (lower bound with sink latency)', async () => {
    const s = await stack('inline', { latency: 400 });
    const started = performance.now();
    const res = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: signupBody('slow'),
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(400);
    expect(res.json().emailStatus).toBe('sent');
    expect(s.sink.stats().messages.accepted).toBe(1);
  });

  for (const variant of ['background', 'worker-pool'] as const) {
    it(`${variant} answers before the sink accepted`, async () => {
      const s = await stack(variant, { latency: 3000 }, { drainTimeoutMs: 5000 });
      const res = await s.app.inject({
        method: 'POST',
        url: '/api/users',
        payload: signupBody(variant),
      });
      expect(res.statusCode).toBe(201);
      expect(s.sink.stats().messages.accepted).toBe(0);
      const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).json();
      expect(metrics.emails.queued + metrics.emails.inFlight).toBe(1);
      await s.sink.waitFor(1, { timeoutMs: 10_000 });
    });
  }

  it('worker-pool splits the connection budget across its threads: 3 connections, not 3 per thread', async () => {
    const s = await stack(
      'worker-pool',
      { latency: 300 },
      {
        smtp: { maxConnections: 3 },
        workerPool: { threads: 2, concurrentTasksPerWorker: 16 },
        drainTimeoutMs: 10_000,
      },
    );
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody(`budget${i}`) }),
      ),
    );
    expect(replies.map((r) => r.statusCode)).toEqual(Array(12).fill(201));
    await s.sink.waitFor(12, { timeoutMs: 20_000 });
    // 12 messages at 300 ms each over 3 connections: the pools were busy; more than 3 open at once
    // would break the budget.
    expect(s.sink.stats().connections.maxActive).toBeLessThanOrEqual(3);
    expect(s.sink.stats().connections.maxActive).toBeGreaterThanOrEqual(2);
  });

  it('inline answers 201 with emailStatus failed when the send fails', async () => {
    const s = await stack('inline', { permFailRate: 1 });
    const res = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: signupBody('fail'),
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().emailStatus).toBe('failed');
    expect(await countUsers(mongo, s.dbName)).toBe(1);
    const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).json();
    expect(metrics.emails).toMatchObject({ sent: 0, failed: 1 });
  });

  it('a send past its deadline: cancelled for real while it waits, delivered later once in the transport', async () => {
    // One connection, 1.5 s per message, a 400 ms deadline: the first send times out inside the
    // SMTP transaction (it still arrives), the second times out waiting for the connection (never
    // sent).
    const s = await stack(
      'inline',
      { latency: 1500 },
      { smtp: { sendTimeoutMs: 400, maxConnections: 1 }, drainTimeoutMs: 5000 },
    );
    const started = performance.now();
    const replies = await Promise.all(
      ['a', 'b'].map((u) =>
        s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody(u) }),
      ),
    );
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(400);
    expect(tookMs).toBeLessThan(400 * 3);
    expect(replies.map((r) => [r.statusCode, r.json().emailStatus])).toEqual([
      [201, 'failed'],
      [201, 'failed'],
    ]);
    const failures = (await s.app.inject({ method: 'GET', url: '/mail/failures' })).json()
      .failures as Array<{ id: string; cancelled: boolean }>;
    expect(failures.map((f) => f.cancelled).sort()).toEqual([false, true]);
    const inTransport = failures.find((f) => !f.cancelled)!;
    const cancelled = failures.find((f) => f.cancelled)!;
    await s.sink.waitFor(1, { timeoutMs: 5000 });
    // The gate counts the first send in flight until the transport settles: wait for it, then look
    // again.
    for (
      let i = 0;
      i < 50 && (await s.app.inject({ method: 'GET', url: '/metrics' })).json().emails.inFlight > 0;
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(s.sink.records().map((r) => r.registrationId)).toEqual([inTransport.id]);
    expect(s.sink.registrationCounts().has(cancelled.id)).toBe(false);
  });
});

describe('bad input: answered with its code, nothing written', () => {
  it('lists every bad field in one 400', async () => {
    const s = await stack('inline');
    const res = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: { username: 'Bad Name!', password: 'short' },
    });
    expect(res.statusCode).toBe(400);
    const fields = (res.json().fields as Array<{ field: string }>).map((f) => f.field).sort();
    expect(fields).toEqual(['email', 'password', 'username']);
    const email = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: { ...signupBody('x'), email: 'not-an-email' },
    });
    expect(email.statusCode).toBe(400);
    expect(email.json().fields).toEqual([
      { field: 'email', message: expect.stringContaining('format') },
    ]);
    const long = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: { ...signupBody('x'), password: 'p'.repeat(129) },
    });
    expect(long.statusCode).toBe(400);
    expect(await countUsers(mongo, s.dbName)).toBe(0);
    expect(s.sink.stats().messages.accepted).toBe(0);
  });

  it('413 over 16 KiB, 415 for a wrong content type, 400 for malformed JSON', async () => {
    const s = await stack('inline');
    const big = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: JSON.stringify({ ...signupBody('big'), padding: 'x'.repeat(BODY_LIMIT_BYTES) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.statusCode).toBe(413);
    const text = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: 'username=a',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.statusCode).toBe(415);
    const broken = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: '{"username": "abc",',
      headers: { 'content-type': 'application/json' },
    });
    expect(broken.statusCode).toBe(400);
    expect(await countUsers(mongo, s.dbName)).toBe(0);
    expect(s.sink.stats().messages.accepted).toBe(0);
  });

  it('409 naming the duplicate field, for e-mail and for username', async () => {
    const s = await stack('inline');
    expect(
      (await s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody('dup') }))
        .statusCode,
    ).toBe(201);
    const sameEmail = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: { ...signupBody('dup'), username: 'other_name' },
    });
    expect(sameEmail.statusCode).toBe(409);
    expect(sameEmail.json()).toMatchObject({ field: 'email' });
    const upper = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: { ...signupBody('dup'), username: 'third', email: 'USERDUP@example.test' },
    });
    expect(upper.statusCode).toBe(409);
    const sameName = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: { ...signupBody('dup'), email: 'other@example.test' },
    });
    expect(sameName.statusCode).toBe(409);
    expect(sameName.json()).toMatchObject({ field: 'username' });
    expect(await countUsers(mongo, s.dbName)).toBe(1);
    expect(s.sink.stats().messages.accepted).toBe(1);
  });

  it('wrong types are a 400, never coerced to strings', async () => {
    const s = await stack('no-email');
    for (const username of [true, ['x_name'], 12345]) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/api/users',
        payload: { ...signupBody('typed'), username },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual([
        { field: 'username', message: expect.stringContaining('string') },
      ]);
    }
    expect(await countUsers(mongo, s.dbName)).toBe(0);
  });

  it('the confirmation link never comes from the Host header', async () => {
    const s = await stack('inline');
    const res = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: signupBody('host'),
      headers: { host: 'attacker.example' },
    });
    expect(res.statusCode).toBe(201);
    const link = linkOf(s.sink.records()[0]!);
    expect(link.hostname).toBe('127.0.0.1');
    const own = await stack('inline', {}, { publicUrl: 'https://mail.example.org/app' });
    await own.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: signupBody('pub'),
      headers: { host: 'attacker.example' },
    });
    expect(linkOf(own.sink.records()[0]!).href).toMatch(
      /^https:\/\/mail\.example\.org\/app\/api\/users\/confirm\?token=/,
    );
  });

  it('two concurrent identical sign-ups: exactly one 201 and one 409', async () => {
    const s = await stack('inline', {}, { hashCost: 10 });
    const [a, b] = await Promise.all([
      s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody('race') }),
      s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody('race') }),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
    expect(await countUsers(mongo, s.dbName)).toBe(1);
  });
});

describe('storage and metrics', () => {
  it('stores a salted scrypt hash, never the password', async () => {
    const s = await stack('no-email', {}, { hashCost: 10 });
    await s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody('hash') });
    const client = new MongoClient(mongo.uri);
    const user = await client.db(s.dbName).collection('users').findOne({ username: 'user_hash' });
    await client.close();
    expect(user?.passwordHash).toMatch(/^scrypt\$10\$/);
    expect(JSON.stringify(user)).not.toContain('correct horse battery');
    expect(await verifyPassword('correct horse battery', String(user?.passwordHash))).toBe(true);
    expect(await verifyPassword('wrong password', String(user?.passwordHash))).toBe(false);
    expect(user?.createdAt).toBeInstanceOf(Date);
    expect(typeof user?.confirmToken).toBe('string');
    expect(await hashPassword('x', 0)).not.toContain('x$');
  });

  it('/healthz and /metrics report the variant, event loop, CPU, memory and e-mail counters', async () => {
    const s = await stack('background');
    expect((await s.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({
      status: 'ok',
      variant: 'background',
    });
    await s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody('m') });
    await s.sink.waitFor(1, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    const m = (await s.app.inject({ method: 'GET', url: '/metrics' })).json();
    expect(m.variant).toBe('background');
    expect(m.eventLoopDelayMs.max).toBeGreaterThan(0);
    expect(m.memory.rssMiB).toBeGreaterThan(10);
    expect(m.requests.total).toBe(1);
    expect(m.emails).toEqual({
      queued: 0,
      inFlight: 0,
      sent: 1,
      failed: 0,
      retried: 0,
      abandoned: 0,
    });
  });

  it('outbox retries temporary failures and marks permanent ones', async () => {
    const s = await stack(
      'outbox',
      { tempFailRate: 0.5, seed: 3 },
      { outbox: { pollMs: 50, backoffBaseMs: 20, backoffMaxMs: 100, maxAttempts: 10 } },
    );
    for (let i = 0; i < 6; i++)
      await s.app.inject({ method: 'POST', url: '/api/users', payload: signupBody(`r${i}`) });
    await s.sink.waitFor(6, { timeoutMs: 15_000 });
    const m = (await s.app.inject({ method: 'GET', url: '/metrics' })).json();
    expect(m.emails.sent).toBe(6);
    expect(m.emails.retried).toBe(s.sink.stats().messages.rejectedByCode['451']);
    expect(m.emails.retried).toBeGreaterThan(0);
    expect(await countUsers(mongo, s.dbName, { 'mail.state': 'sent' })).toBe(6);

    const p = await stack('outbox', { permFailRate: 1 }, { outbox: { pollMs: 50 } });
    await p.app.inject({ method: 'POST', url: '/api/users', payload: signupBody('perm') });
    for (
      let i = 0;
      i < 100 && (await countUsers(mongo, p.dbName, { 'mail.state': 'failed' })) === 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await countUsers(mongo, p.dbName, { 'mail.state': 'failed' })).toBe(1);
    expect((await p.app.inject({ method: 'GET', url: '/metrics' })).json().emails).toMatchObject({
      failed: 1,
      retried: 0,
      sent: 0,
    });
  });
});

describe('under abuse', () => {
  it('requests the client gave up on leave the in-flight gauge', async () => {
    const s = await stack('inline', { latency: 600 });
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = s.app.server.address() as { port: number };
    const { request } = await import('node:http');
    for (let i = 0; i < 3; i++) {
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/users',
        headers: { 'content-type': 'application/json' },
      });
      req.on('error', () => {});
      req.end(JSON.stringify(signupBody(`gone${i}`)));
      setTimeout(() => req.destroy(), 100);
    }
    await s.sink.waitFor(3, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const m = (await s.app.inject({ method: 'GET', url: '/metrics' })).json();
    expect(m.requests).toEqual({ total: 3, inFlight: 0 });
  });

  it("outbox: a send slower than the lease stays its sender's: sent once, recorded once", async () => {
    const s = await stack(
      'outbox',
      { latency: 1200 },
      { outbox: { pollMs: 50, leaseMs: 300, concurrency: 3 } },
    );
    const res = await s.app.inject({
      method: 'POST',
      url: '/api/users',
      payload: signupBody('slow'),
    });
    expect(res.statusCode).toBe(201);
    await s.sink.waitFor(1, { timeoutMs: 10_000 });
    // Siblings poll every 50 ms: a claim they could take over would have been sent again by now.
    await new Promise((r) => setTimeout(r, 1500));
    expect(s.sink.stats()).toMatchObject({ duplicates: 0, messages: { accepted: 1 } });
    expect(await countUsers(mongo, s.dbName, { 'mail.state': 'sent', 'mail.attempts': 1 })).toBe(1);
  });
});

describe('pure parts', () => {
  it('parses server flags with environment fallbacks', () => {
    const c = parseServerArgs(
      ['--', '--variant', 'outbox', '--port', '0', '--max-connections', '8', '--hash-cost', '0'],
      {
        MONGODB_URI: 'mongodb://x',
        MAILBENCH_SMTP_PORT: '2600',
      },
    );
    expect(c.port).toBe(0);
    expect(c.app).toMatchObject({
      variant: 'outbox',
      mongoUri: 'mongodb://x',
      hashCost: 0,
      smtp: { port: 2600, maxConnections: 8 },
    });
    // The outbox's senders follow the connection budget unless given on their own.
    expect(resolveOptions(c.app).outbox.concurrency).toBe(8);
    expect(
      resolveOptions(
        parseServerArgs(['--max-connections', '8', '--outbox-concurrency', '3'], {
          MONGODB_URI: 'mongodb://x',
        }).app,
      ).outbox.concurrency,
    ).toBe(3);
    // The command the runner builds reads back as the same options; connection strings (a password
    // may be in them) travel in the environment, not on the command line that ps shows.
    const launch = {
      port: 0,
      app: {
        variant: 'worker-pool' as const,
        mongoUri: 'mongodb://u:secret@y',
        redisUrl: 'redis://:secret@r',
        smtp: { maxConnections: 3, sendTimeoutMs: 900 },
        outbox: { leaseMs: 77 },
      },
    };
    const command = toServerCommand(launch);
    expect(command.args.join(' ')).not.toContain('secret');
    expect(command.env).toEqual({
      MAILBENCH_MONGO_URI: 'mongodb://u:secret@y',
      MAILBENCH_REDIS_URL: 'redis://:secret@r',
    });
    expect(parseServerArgs(command.args, command.env)).toEqual({
      help: false,
      host: '127.0.0.1',
      ...launch,
    });
    expect(() => parseServerArgs(['--variant', 'carrier-pigeon'])).toThrow(
      /--variant must be one of no-email, inline/,
    );
    expect(() => parseServerArgs(['--port', 'eighty'])).toThrow(/--port must be a whole number/);
    expect(() => parseServerArgs(['--colour'])).toThrow(/colour/);
  });

  it("answers /metrics in the contract's shape, also before the event loop has been sampled", () => {
    const metrics = new Metrics();
    const snapshot = metrics.read({
      queued: 0,
      inFlight: 0,
      sent: 0,
      failed: 0,
      retried: 0,
      abandoned: 0,
    });
    metrics.close();
    // JSON turns a NaN into null, which the runner's contract check refuses.
    const body = JSON.parse(
      JSON.stringify({ ...snapshot, variant: 'inline', hashCost: 0, shutdown: null }),
    );
    expect(() => readMetrics(body)).not.toThrow();
    expect(() => readMetrics({ ...body, emails: { ...body.emails, queued: undefined } })).toThrow(
      /emails\.queued/,
    );
  });

  it('resets the event-loop and CPU window only when the sampler asks (?reset=window)', async () => {
    const s = await stack('no-email');
    const read = async (url: string) =>
      (await s.app.inject({ method: 'GET', url })).json().cpu.sinceLastMs as number;
    await read('/metrics?reset=window');
    await new Promise((r) => setTimeout(r, 150));
    const first = await read('/metrics');
    await new Promise((r) => setTimeout(r, 150));
    const second = await read('/metrics');
    expect(second).toBeGreaterThan(first); // a plain read leaves the window running
    await read('/metrics?reset=window');
    expect(await read('/metrics')).toBeLessThan(second);
  });

  it('backs off exponentially, capped', () => {
    expect([1, 2, 3, 4, 5, 10].map((a) => backoffMs(a, 500, 3000))).toEqual([
      500, 1000, 2000, 3000, 3000, 3000,
    ]);
  });
});
