/**
 * Every accounting path of the fault scenarios (lost, duplicate, failed, retried, stray user,
 * bad input), each on a seconds-long cell against the real sink, the real API process and the
 * stand-in database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { startMongo, type MongoHandle } from '@mailbench/mongo';
import { findRedisServer, startRedis, type RedisHandle } from '@mailbench/redis';
import { startSmtpSink, validateLatency, type SmtpSinkOptions } from '@mailbench/smtp-sink';
import { runCell } from '../src/trial/cell.ts';
import { badInputKind, newRunTag, SignupNames } from '../src/config/requests.ts';
import type { Variant } from '@mailbench/target-api/contract';
import { loadScenario } from '../src/config/scenario.ts';
import type { Scenario } from '../src/shapes/scenario.ts';
import type { CellResult } from '../src/shapes/results.ts';

let mongo: MongoHandle;
let client: MongoClient;
let redis: RedisHandle | null = null;
// CI installs redis-server and requires it (MAILBENCH_REQUIRE_ENGINES); elsewhere the bullmq cells
// skip without it.
const haveRedis = Boolean(
  process.env.REDIS_URL || findRedisServer() || process.env.MAILBENCH_REQUIRE_ENGINES === '1',
);
const QUEUES = ['agenda', 'bullmq', 'bullmq-worker'] as const;
const needsRedis = (variant: (typeof QUEUES)[number]) => variant !== 'agenda';
beforeAll(async () => {
  mongo = await startMongo({ engine: 'standin', log: () => {} });
  client = new MongoClient(mongo.uri);
  await client.connect();
  if (haveRedis) redis = await startRedis();
});
afterAll(async () => {
  await client?.close();
  await mongo?.stop();
  await redis?.stop();
});

/** The six disjoint outcomes of the owed e-mails. */
function outcomes(r: CellResult): number {
  const e = r.emails;
  return e.delivered + e.failed + e.failedButDeliveredLater + e.abandoned + e.held + e.lost;
}

let cellCounter = 0;
async function cell(
  variant: Variant,
  overrides: Partial<Scenario>,
  sinkOptions: SmtpSinkOptions,
  requests = 40,
): Promise<CellResult> {
  const base = loadScenario('smoke');
  // The sink's latency is the scenario's: each trial sets it from there.
  const smtp = { ...base.smtp, latency: validateLatency(sinkOptions.latency ?? base.smtp.latency) };
  // These cells check what each fault does to the mail, not timing: they run side by side on two
  // cores, where a generator a few hundred ms late says the machine is busy, nothing more.
  const generator = { behindThresholdMs: 500, stallThresholdMs: 2000 };
  const scenario: Scenario = {
    ...base,
    smtp,
    ...generator,
    durationSec: 4,
    warmup: { requests: 0, durationSec: 1 },
    drainTimeoutSec: 30,
    ...overrides,
  };
  const sink = await startSmtpSink(sinkOptions);
  try {
    return await runCell(
      {
        runId: `faults${process.pid}x${cellCounter++}`,
        scenario,
        names: new SignupNames(newRunTag()),
        mongoUri: mongo.uri,
        redisUrl: redis?.url ?? null,
        client,
        target: null,
        sink,
        signal: new AbortController().signal,
        onProgress: () => {},
        onServer: () => {},
      },
      { index: 0, variant, label: variant, requests, repeat: 1, factor: null },
    );
  } finally {
    await sink.close();
  }
}

const slowPool = {
  mode: 'pooled' as const,
  maxConnections: 2,
  maxMessages: 100,
  sendTimeoutMs: 10_000,
};

// 20 sign-ups over 2 s (10/s against an SMTP budget of 4/s), killed halfway.
const crashWindow = { durationSec: 2, faults: { crash: { atSec: 1 } } };

describe('crash: SIGKILL mid-window, restart on the same database', () => {
  it('background loses the e-mails it held in memory; the cell says how many', async () => {
    const r = await cell(
      'background',
      { ...crashWindow, transport: slowPool },
      { latency: 500 },
      20,
    );
    expect(r.status, r.error ?? '').toBe('ok');
    expect(r.faults?.crash?.killedAtSec).toBeGreaterThanOrEqual(1);
    expect(r.faults?.crash?.restartedPid).not.toBe(r.faults?.crash?.killedPid);
    expect(r.emails.lost).toBeGreaterThan(0);
    // Each owed e-mail has exactly one outcome.
    expect(outcomes(r)).toBe(r.emails.expected);
    expect(r.valid).toBe(true); // background promises nothing durable: loss is the finding, not an error
  }, 60_000);

  it('outbox loses none; e-mails the sink took after the kill are sent again and counted as duplicates', async () => {
    const r = await cell(
      'outbox',
      { ...crashWindow, transport: slowPool, outbox: { leaseMs: 1500, pollMs: 200 } },
      { latency: 500 },
      20,
    );
    expect(r.status, r.error ?? '').toBe('ok');
    expect(r.emails.lost).toBe(0);
    // Every owed e-mail arrived (sign-ups stored but never answered arrive too, counted as not
    // owed).
    expect(r.emails.delivered + r.emails.failedButDeliveredLater).toBe(r.emails.expected);
    expect(outcomes(r)).toBe(r.emails.expected);
    expect(r.emails.duplicated).toBeGreaterThanOrEqual(1);
    expect(r.valid, r.reasons.join('; ')).toBe(true);
  }, 60_000);

  for (const variant of QUEUES) {
    it.skipIf(needsRedis(variant) && !haveRedis)(
      `${variant}: the jobs survive the kill (in ${variant === 'agenda' ? 'MongoDB' : 'Redis'}); none lost, each owed e-mail arrives`,
      async () => {
        const base = loadScenario('smoke');
        const quick = {
          agenda: { processEveryMs: 200, lockLifetimeMs: 1500, concurrency: null },
          bullmq: { ...base.bullmq, lockMs: 1500 },
        };
        const r = await cell(
          variant,
          { ...crashWindow, transport: slowPool, ...quick },
          { latency: 500 },
          20,
        );
        expect(r.status, r.error ?? '').toBe('ok');
        expect(r.faults?.crash?.restartedPid).not.toBe(r.faults?.crash?.killedPid);
        expect(r.emails.lost).toBe(0);
        expect(r.emails.delivered + r.emails.failedButDeliveredLater).toBe(r.emails.expected);
        expect(outcomes(r)).toBe(r.emails.expected);
        // A worker process of its own outlives its API: it finishes the jobs it holds, so none
        // stalls and none is sent twice.
        if (variant === 'bullmq-worker') expect(r.emails.duplicated).toBe(0);
        expect(r.valid, r.reasons.join('; ')).toBe(true);
      },
      90_000,
    );
  }

  it('inline: users stored whose reply died with the process are counted as stray users', async () => {
    const r = await cell(
      'inline',
      { ...crashWindow, transport: { ...slowPool, maxConnections: 5 } },
      { latency: 1000 },
      20,
    );
    expect(r.status, r.error ?? '').toBe('ok');
    const stray = (r.accounting.usersInDb ?? 0) - r.accounting.responses2xx;
    expect(stray).toBeGreaterThan(0);
    expect(r.errors).toBeGreaterThan(0); // requests in flight at the kill, and during the restart
    expect(r.valid, r.reasons.join('; ')).toBe(true);
  }, 60_000);
});

// The cells below only wait (on slow SMTP, drains, timers), each with its own sink, database and
// queue: they run side by side. The crashes above run one at a time: a restart is timed.
describe.concurrent('faults that only wait', () => {
  describe('flaky SMTP: the job queues', () => {
    for (const variant of QUEUES) {
      it.skipIf(needsRedis(variant) && !haveRedis)(
        `${variant} retries temporary refusals with its own backoff and fails the permanent ones at once`,
        async () => {
          const r = await cell(
            variant,
            { agenda: { processEveryMs: 200, lockLifetimeMs: 600_000, concurrency: null } },
            { tempFailRate: 0.3, permFailRate: 0.1, seed: 5 },
          );
          expect(r.emails.retried).toBeGreaterThan(0);
          expect(r.emails.failed).toBeGreaterThan(0);
          // Every refusal is either followed by a retry or final.
          expect(r.emails.retried + r.emails.failed).toBe(r.emails.rejectedBySink);
          expect(r.emails.failed).toBe(r.emails.serverCounters?.failed);
          expect(r.emails.lost).toBe(0);
          expect(r.emails.delivered + r.emails.failed).toBe(r.emails.expected);
          expect(r.valid, r.reasons.join('; ')).toBe(true);
        },
        90_000,
      );
    }
  });

  describe('flaky SMTP', () => {
    const flaky = { tempFailRate: 0.3, permFailRate: 0.1, seed: 5 };
    it('background gives up on every refusal: failed, never retried', async () => {
      const r = await cell('background', {}, flaky);
      expect(r.emails.failed).toBeGreaterThan(0);
      expect(r.emails.retried).toBe(0);
      expect(r.emails.failed).toBe(r.emails.rejectedBySink);
      expect(r.emails.lost).toBe(0);
      expect(r.emails.delivered + r.emails.failed).toBe(r.emails.expected);
    }, 60_000);

    it('outbox retries temporary refusals and fails only the permanent ones', async () => {
      const r = await cell('outbox', { outbox: { leaseMs: 30_000, pollMs: 100 } }, flaky);
      expect(r.emails.retried).toBeGreaterThan(0);
      expect(r.emails.retried).toBe(r.emails.rejectedBySink - r.emails.failed);
      expect(r.emails.failed).toBe(r.emails.serverCounters?.failed);
      expect(r.emails.lost).toBe(0);
      expect(r.emails.delivered + r.emails.failed).toBe(r.emails.expected);
      expect(r.valid, r.reasons.join('; ')).toBe(true);
    }, 60_000);
  });

  describe('SMTP down for a window', () => {
    it('outbox delivers everything once the provider is back, and reports the recovery time', async () => {
      const r = await cell(
        'outbox',
        {
          faults: { smtpDown: { fromSec: 1, forSec: 1.5 } },
          outbox: { leaseMs: 30_000, pollMs: 100 },
        },
        { latency: 20 },
      );
      expect(r.emails.delivered).toBe(r.emails.expected);
      expect(r.emails.retried).toBeGreaterThan(0);
      expect(r.faults?.smtpDown?.recoverySec).not.toBeNull();
      expect(r.valid, r.reasons.join('; ')).toBe(true);
    }, 60_000);

    it('inline reports the sends that failed during the outage', async () => {
      const r = await cell(
        'inline',
        { faults: { smtpDown: { fromSec: 1, forSec: 1.5 } } },
        { latency: 20 },
      );
      expect(r.emails.failed).toBeGreaterThan(0);
      expect(r.emails.lost).toBe(0);
      expect(r.statusCounts['201']).toBe(40); // the sign-ups themselves still succeed
    }, 60_000);
  });

  describe('a send timeout shorter than the SMTP latency', () => {
    // 500 ms per message, a 300 ms deadline, 3 connections: sends that reach the transport time out
    // inside it and still arrive; those waiting for a connection past the deadline are cancelled.
    const slowSmtp = {
      mode: 'pooled' as const,
      maxConnections: 3,
      maxMessages: 100,
      sendTimeoutMs: 300,
    };
    for (const variant of ['inline', 'background', 'worker-pool', 'outbox'] as const) {
      it(`${variant}: delivered + failed + failed-but-delivered-later + lost = owed, per registration`, async () => {
        const r = await cell(
          variant,
          { durationSec: 1, transport: slowSmtp, outbox: { leaseMs: 30_000, pollMs: 100 } },
          { latency: 500 },
          10,
        );
        expect(r.status, r.error ?? '').toBe('ok');
        expect(r.emails.expected).toBe(r.accounting.responses2xx);
        expect(r.emails.expected).toBeGreaterThan(0);
        expect(outcomes(r)).toBe(r.emails.expected);
        // Every send took longer than its deadline: none is plainly delivered, and the sink shows
        // which arrived anyway.
        expect(r.emails.delivered).toBe(0);
        expect(r.emails.failedButDeliveredLater).toBeGreaterThan(0);
        expect(r.emails.drainTimedOut).toBe(false);
        expect(r.reasons.join('; ')).toMatch(
          /system: \d+ e-mails reported failed but delivered later/,
        );
      }, 90_000);
    }
  });

  describe('a drain that runs out of time', () => {
    it('background: what the API gives up on at shutdown is abandoned by its own report, not silently lost', async () => {
      // 30 sign-ups at 1 s per message on 2 connections: far more than 2 s of draining can send.
      const r = await cell(
        'background',
        { durationSec: 1, drainTimeoutSec: 2, transport: slowPool },
        { latency: 1000 },
        30,
      );
      expect(r.status, r.error ?? '').toBe('ok');
      expect(r.emails.drainTimedOut).toBe(true);
      expect(r.emails.abandoned).toBeGreaterThan(0);
      expect(r.emails.lost).toBe(0);
      expect(outcomes(r)).toBe(r.emails.expected);
      // The server counts what it gave up on; a message already in the SMTP transaction may still
      // be accepted by the sink after the server stopped, and is then delivered, not abandoned.
      expect(r.server.shutdown?.abandoned).toBe(
        r.emails.abandoned + (r.emails.abandonedButArrived ?? 0),
      );
      const codes = r.findings.map((f) => f.code);
      expect(codes).toContain('drain-timed-out');
      expect(codes).toContain('mail-abandoned');
      expect(codes).not.toContain('mail-lost');
    }, 60_000);
  });

  describe("the runner's own faults", () => {
    it('a server that cannot start is recorded as a failed cell with its last stderr lines', async () => {
      const base = loadScenario('smoke');
      const sink = await startSmtpSink();
      try {
        const r = await runCell(
          {
            runId: `nostart${process.pid}`,
            scenario: { ...base, durationSec: 1, warmup: { requests: 0, durationSec: 1 } },
            names: new SignupNames(newRunTag()),
            mongoUri: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500',
            client,
            target: null,
            sink,
            signal: new AbortController().signal,
            onProgress: () => {},
            onServer: () => {},
          },
          { index: 0, variant: 'inline', label: 'inline', requests: 5, repeat: 1, factor: null },
        );
        expect(r.status).toBe('failed');
        expect(r.valid).toBe(false);
        expect(r.error).toMatch(/exited .* before it was ready/);
        expect(r.serverStderrTail).toContain('could not start');
        expect(r.reasons[0]).toMatch(/^measurement: cell failed/);
      } finally {
        await sink.close();
      }
    }, 60_000);
  });

  describe('bad input', () => {
    it('every bad request gets its 4xx, no stray user, valid sign-ups unaffected', async () => {
      const share = 0.2;
      const r = await cell('inline', { faults: { badInput: { share } } }, { latency: 0 }, 50);
      const bad = r.faults?.badInput;
      expect(bad?.sent).toBe(
        Array.from({ length: 50 }, (_, i) => badInputKind(i, share)).filter(Boolean).length,
      );
      expect(bad?.answeredAsExpected).toBe(bad?.sent);
      expect(Object.keys(bad?.byKind ?? {}).sort()).toEqual([
        'duplicate',
        'invalid-fields',
        'malformed-json',
        'oversized',
        'wrong-content-type',
      ]);
      expect(r.accounting.usersInDb).toBe(r.accounting.responses2xx);
      expect(r.statusCounts['201']).toBe(50 - (bad?.sent ?? 0));
      expect(r.emails).toMatchObject({ lost: 0, duplicated: 0, failed: 0 });
      expect(r.emails.delivered).toBe(r.emails.expected);
      expect(r.valid, r.reasons.join('; ')).toBe(true);
    }, 60_000);
  });
});
