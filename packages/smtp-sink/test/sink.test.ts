import { connect } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import nodemailer, { type Transporter } from 'nodemailer';
import {
  createRandom,
  parseLatency,
  startSmtpSink,
  type SmtpSink,
  type SmtpSinkOptions,
} from '../src/index.ts';

const open: SmtpSink[] = [];
const transports: Transporter[] = [];

async function sink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(options);
  open.push(s);
  return s;
}

function transport(s: SmtpSink, extra: Record<string, unknown> = {}) {
  const t = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: false,
    ignoreTLS: true,
    ...extra,
  });
  transports.push(t);
  return t;
}

function mail(registrationId: string | null, to = 'user@example.test') {
  return {
    from: 'noreply@mailbench.test',
    to,
    subject: 'Confirm your account',
    text: 'hello',
    headers: registrationId === null ? {} : { 'X-Registration-Id': registrationId },
  };
}

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe('smtp-sink', () => {
  it('accepts a message and records its headers, recipients and size', async () => {
    const s = await sink();
    const info = await transport(s).sendMail({
      ...mail('reg-1', 'a@example.test'),
      messageId: '<m1@mailbench.test>',
    });
    expect(info.accepted).toEqual(['a@example.test']);
    const [record] = s.records();
    expect(record?.registrationId).toBe('reg-1');
    expect(record?.messageId).toBe('<m1@mailbench.test>');
    expect(record?.recipients).toEqual(['a@example.test']);
    expect(record?.sizeBytes).toBeGreaterThan(100);
    expect(s.stats()).toMatchObject({
      registrations: 1,
      duplicates: 0,
      unattributed: 0,
      messages: { accepted: 1, rejected: 0 },
    });
  });

  it('applies the latency when the data ends, bounded on both sides', async () => {
    const s = await sink({ latency: 300 });
    const client = transport(s, { pool: true, maxConnections: 1 });
    await client.sendMail(mail('reg-warm')); // the connection and its 100 ms greeting are paid here
    const started = performance.now();
    await client.sendMail(mail('reg-lat'));
    const tookMs = performance.now() - started;
    // At least the configured latency, and not a multiple of it (a 10x error would show).
    expect(tookMs / 300).toBeGreaterThanOrEqual(1);
    expect(tookMs / 300).toBeLessThan(2);
    expect(s.records()[1]?.latencyMs).toBe(300);
    client.close();
  });

  it('applies per-recipient and greeting delays (lower bounds only)', async () => {
    const s = await sink({ perRecipientDelayMs: 150, greetingDelayMs: 200 });
    const started = performance.now();
    await transport(s).sendMail(mail('reg-rcpt', 'a@example.test, b@example.test'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(200 + 2 * 150);
  });

  it('greets after its own delay, and still turns away a client that talks before it', async () => {
    const s = await sink({ greetingDelayMs: 300 });
    expect(s.greetingDelayMs).toBe(300);
    const polite = connect(s.port, s.host);
    await once(polite, 'connect');
    const opened = performance.now();
    const [greeting] = (await once(polite, 'data')) as [Buffer];
    expect(greeting.toString()).toMatch(/^220 /);
    expect(performance.now() - opened).toBeGreaterThanOrEqual(295);
    polite.destroy();
    const early = connect(s.port, s.host);
    await once(early, 'connect');
    early.write('EHLO early.example.test\r\n');
    let text = '';
    early.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await once(early, 'close');
    expect(text).toMatch(/^421 .*talk too soon/m);
    expect((await sink()).greetingDelayMs).toBe(100);
  });

  it('changes its latency model for the messages that follow', async () => {
    const s = await sink({ latency: 0 });
    const t = transport(s);
    await t.sendMail(mail('reg-before'));
    s.setLatency(parseLatency('250ms'));
    expect(s.latency).toEqual({ kind: 'fixed', ms: 250 });
    await t.sendMail(mail('reg-after'));
    expect(s.records().map((r) => r.latencyMs)).toEqual([0, 250]);
    expect(() => s.setLatency(-1)).toThrow(/latency/);
  });

  it('draws distribution latencies from the seed, repeatably', async () => {
    const spec = parseLatency('lognormal:20ms,80ms');
    const a = await sink({ latency: spec, seed: 9 });
    const b = await sink({ latency: spec, seed: 9 });
    for (const s of [a, b]) {
      const t = transport(s);
      for (let i = 0; i < 5; i++) await t.sendMail(mail(`r${i}`));
    }
    const drawsA = a.records().map((r) => r.latencyMs);
    const drawsB = b.records().map((r) => r.latencyMs);
    expect(drawsA.length).toBe(5);
    expect(drawsA).toEqual(drawsB);
    expect(new Set(drawsA).size).toBe(5);
  });

  it('answers 421 beyond the connection cap', async () => {
    const s = await sink({ maxConnections: 1 });
    const hold = transport(s, { pool: true, maxConnections: 1 });
    await hold.sendMail(mail('held')); // the pooled connection stays open
    const second = transport(s);
    const err = await second.sendMail(mail('refused')).then(
      () => null,
      (e: { responseCode?: number }) => e,
    );
    expect(err?.responseCode).toBe(421);
    expect(s.stats().connections.refused).toBe(1);
    expect(s.stats().messages.rejectedByCode['421']).toBe(1);
    expect(s.stats().connections.maxActive).toBe(1);
  });

  it('refuses every connection while set unavailable, and recovers', async () => {
    const s = await sink();
    s.setAvailable(false);
    const err = await transport(s)
      .sendMail(mail('down'))
      .then(
        () => null,
        (e: { responseCode?: number }) => e,
      );
    expect(err?.responseCode).toBe(421);
    s.setAvailable(true);
    await transport(s).sendMail(mail('up'));
    expect(s.stats().registrations).toBe(1);
  });

  it('rejects beyond the messages-per-second limit with a 4xx', async () => {
    const s = await sink({ maxMessagesPerSec: 3 });
    const t = transport(s, { pool: true, maxConnections: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => t.sendMail(mail(`rate-${i}`))),
    );
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(3);
    expect(rejected.length).toBe(3);
    expect((rejected[0] as PromiseRejectedResult).reason.responseCode).toBe(451);
  });

  it('injects seeded faults with exact, repeatable counts', async () => {
    const n = 120;
    const tempFailRate = 0.2;
    const permFailRate = 0.1;
    // The fault stream is the documented one: createRandom(seed ^ 0x5bd1e995), one draw per
    // message.
    const random = createRandom(42 ^ 0x5bd1e995);
    let expectedPerm = 0;
    let expectedTemp = 0;
    for (let i = 0; i < n; i++) {
      const u = random();
      if (u < permFailRate) expectedPerm++;
      else if (u < permFailRate + tempFailRate) expectedTemp++;
    }
    expect(expectedPerm + expectedTemp).toBeGreaterThan(0);

    const s = await sink({ tempFailRate, permFailRate, seed: 42 });
    const t = transport(s, { pool: true, maxConnections: 4 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: n }, (_, i) => t.sendMail(mail(`f-${i}`))),
    );
    const codes = outcomes.map((o) =>
      o.status === 'fulfilled' ? 250 : (o.reason as { responseCode: number }).responseCode,
    );
    expect(codes.filter((c) => c === 550).length).toBe(expectedPerm);
    expect(codes.filter((c) => c === 451).length).toBe(expectedTemp);
    expect(s.stats().messages).toMatchObject({
      accepted: n - expectedPerm - expectedTemp,
      rejected: expectedPerm + expectedTemp,
      rejectedByCode: { '550': expectedPerm, '451': expectedTemp },
    });
  });

  it('counts duplicates and unattributed messages', async () => {
    const s = await sink();
    const t = transport(s);
    await t.sendMail(mail('dup'));
    await t.sendMail(mail('dup'));
    await t.sendMail(mail('dup'));
    await t.sendMail(mail('single'));
    await t.sendMail(mail(null));
    expect(s.stats()).toMatchObject({
      registrations: 2,
      duplicates: 2,
      unattributed: 1,
      messages: { accepted: 5 },
    });
    expect(s.registrationCounts().get('dup')).toBe(3);
    s.reset();
    expect(s.stats()).toMatchObject({
      registrations: 0,
      duplicates: 0,
      unattributed: 0,
      messages: { accepted: 0 },
    });
    expect(s.records()).toEqual([]);
  });

  it('reset() keeps messages still inside their latency in progress, so idle means idle', async () => {
    const s = await sink({ latency: 400 });
    const sending = transport(s).sendMail(mail('reg-in-latency'));
    while (s.stats().messages.inProgress === 0) await new Promise((r) => setTimeout(r, 10));
    s.reset();
    expect(s.stats().messages.inProgress).toBe(1);
    // Still busy: waiting for 100 ms of quiet must not succeed while the message sits in its
    // latency.
    await expect(s.waitForIdle({ quietMs: 100, timeoutMs: 150 })).rejects.toMatchObject({
      code: 'ERR_SINK_NOT_IDLE',
    });
    await sending;
    expect(s.stats().messages.inProgress).toBe(0);
    await s.waitForIdle({ quietMs: 50, timeoutMs: 2000 });
  });

  it('waitFor resolves once enough registrations arrived', async () => {
    const s = await sink({ latency: 50 });
    const t = transport(s, { pool: true });
    const waiting = s.waitFor(3, { timeoutMs: 5000 });
    await Promise.all(['a', 'b', 'c'].map((id) => t.sendMail(mail(id))));
    await expect(waiting).resolves.toMatchObject({ registrations: 3 });
  });

  it('waitFor times out naming how many are missing', async () => {
    const s = await sink();
    await transport(s).sendMail(mail('only-one'));
    await expect(s.waitFor(4, { timeoutMs: 200 })).rejects.toThrow(/1 arrived, 3 missing/);
  });

  it('survives garbage bytes on the socket', async () => {
    const s = await sink();
    const socket = connect(s.port, s.host);
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(Buffer.from([0, 255, 13, 10, 1, 2, 3, 0xde, 0xad, 0xbe, 0xef, 13, 10]));
    socket.write('GARBAGE COMMAND\r\n'.repeat(50));
    socket.write(Buffer.alloc(70_000, 0x41)); // an over-long line
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await transport(s).sendMail(mail('after-garbage'));
    expect(s.stats().registrations).toBe(1);
  });

  it('close() with open connections finishes promptly', async () => {
    const s = await sink({ latency: 10_000, closeTimeoutMs: 500 });
    const t = transport(s, { pool: true, maxConnections: 3 });
    const pending = Array.from({ length: 3 }, (_, i) =>
      t.sendMail(mail(`slow-${i}`)).catch((e: unknown) => e),
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(s.stats().messages.inProgress).toBe(3);
    const started = performance.now();
    await s.close();
    expect(performance.now() - started).toBeLessThan(5000);
    const outcomes = await Promise.all(pending);
    expect(outcomes.every((o) => o instanceof Error)).toBe(true);
  });

  it('rejects bad options naming the option', async () => {
    await expect(startSmtpSink({ latency: -5 })).rejects.toThrow(/"latency"/);
    await expect(startSmtpSink({ latency: { kind: 'fixed', ms: -1 } })).rejects.toThrow(
      /"latency.ms"/,
    );
    await expect(startSmtpSink({ latency: { kind: 'pareto' } as never })).rejects.toThrow(
      /"latency.kind".*unknown distribution "pareto"/,
    );
    await expect(startSmtpSink({ tempFailRate: 1.5 })).rejects.toThrow(/"tempFailRate"/);
    await expect(startSmtpSink({ maxConnections: -1 })).rejects.toThrow(/"maxConnections"/);
    await expect(startSmtpSink({ port: 70000 })).rejects.toThrow(/"port"/);
    expect(() => parseLatency('pareto:1,2')).toThrow(/unknown distribution "pareto"/);
    expect(() => parseLatency('soon')).toThrow(/"latency".*not a duration/);
    expect(parseLatency('500ms')).toEqual({ kind: 'fixed', ms: 500 });
    expect(parseLatency('uniform:100ms-1s')).toEqual({ kind: 'uniform', minMs: 100, maxMs: 1000 });
  });
});
