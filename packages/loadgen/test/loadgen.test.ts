import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LoadgenError,
  runClosedLoop,
  runOpenLoop,
  stageDueTimes,
  stagesCount,
  summarize,
} from '../src/index.ts';

interface TestServer {
  url: string;
  raw: Server;
  bodies: string[];
  maxInFlight: number;
  requests: number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * A server whose behaviour per request is chosen by its path: /delay/MS, /hang, /reset, anything
 * else 200.
 */
async function startServer(): Promise<TestServer> {
  const state = { bodies: [] as string[], inFlight: 0, maxInFlight: 0, requests: 0 };
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    state.requests++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    let body = '';
    for await (const chunk of req) body += chunk;
    state.bodies.push(body);
    const done = () => {
      state.inFlight--;
    };
    const path = req.url ?? '/';
    if (path === '/hang') return res.on('close', done); // never answers
    if (path === '/reset') {
      done();
      return req.socket.destroy();
    }
    const delay = path.startsWith('/delay/') ? Number(path.slice(7)) : 0;
    setTimeout(() => {
      done();
      res.writeHead(path === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }, delay);
  });
  server.keepAliveTimeout = 1000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const handle: TestServer = {
    url: `http://127.0.0.1:${port}`,
    raw: server,
    get bodies() {
      return state.bodies;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    get requests() {
      return state.requests;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  servers.push(handle);
  return handle;
}

describe('runOpenLoop', () => {
  it('says when it fell behind: 3000 requests due within 100 ms cannot all leave on time', async () => {
    const server = await startServer();
    const r = await runOpenLoop({
      baseUrl: server.url,
      count: 3000,
      durationMs: 100,
      connection: 'keep-alive',
      request: () => ({ method: 'GET', path: '/' }),
    });
    expect(r.samples.length).toBe(3000);
    expect(r.dispatchError.p99).toBeGreaterThan(r.behindThresholdMs);
    expect(r.generatorBehind).toBe(true);
  });

  it('keeps the schedule open: answers taking 1 s do not hold back later requests', async () => {
    const server = await startServer();
    const events: number[] = [];
    const starts: number[] = [];
    const result = await runOpenLoop({
      baseUrl: server.url,
      count: 20,
      durationMs: 2000,
      request: (i) => ({
        method: 'POST',
        path: '/delay/1000',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ i }),
      }),
      onProgress: (e) => events.push(e.inFlight),
      onStart: (t0) => starts.push(t0),
      progressIntervalMs: 100,
    });
    // 10 requests/s against 1 s answers: about 10 in flight at once. A closed loop would hold 1.
    expect(server.maxInFlight).toBeGreaterThanOrEqual(5);
    expect(Math.max(...events)).toBeGreaterThanOrEqual(5);
    expect(result.samples.length).toBe(20);
    expect(result.statusCounts).toEqual({ '200': 20 });
    for (const s of result.samples) {
      expect(s.intendedMs).toBeCloseTo((s.i * 2000) / 20, 6);
      expect(s.endMs - s.sentMs).toBeGreaterThanOrEqual(1000);
    }
    expect(result.latencyFromSend.min).toBeGreaterThanOrEqual(1000);
    expect(result.connection).toBe('per-request');
    expect(result.scheduler).toBe('worker-thread');
    // Told once, as the schedule starts, with the t0 the samples count from.
    expect(starts).toEqual([result.t0EpochMs]);
  });

  it('sends every body the factory made, each once', async () => {
    const server = await startServer();
    const result = await runOpenLoop({
      baseUrl: server.url,
      count: 200,
      durationMs: 1000,
      connection: 'keep-alive',
      request: (i) => ({
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: `u${i}` }),
      }),
      warmup: {
        count: 10,
        durationMs: 200,
        request: (i) => ({ method: 'POST', path: '/', body: `warm${i}` }),
      },
    });
    const measured = server.bodies.filter((b) => !b.startsWith('warm'));
    expect(measured.length).toBe(200);
    expect(new Set(measured).size).toBe(200);
    expect(server.bodies.filter((b) => b.startsWith('warm')).length).toBe(10);
    expect(result.samples.length).toBe(200);
  });

  it('captures timeouts, resets and HTTP errors as samples: the count always matches', async () => {
    const server = await startServer();
    const paths = ['/', '/hang', '/reset', '/missing'];
    const result = await runOpenLoop({
      baseUrl: server.url,
      count: 40,
      durationMs: 400,
      timeoutMs: 500,
      request: (i) => ({ method: 'GET', path: paths[i % 4] as string }),
    });
    expect(result.samples.length).toBe(40);
    const hang = result.samples.filter((s) => s.i % 4 === 1);
    const reset = result.samples.filter((s) => s.i % 4 === 2);
    expect(hang.every((s) => s.status === 0 && s.error !== null)).toBe(true);
    // The timeout counts from when the request was due, as its latency from intended does (a
    // request sent late on a busy machine has less of it left).
    expect(hang.every((s) => s.endMs - s.intendedMs >= 490)).toBe(true);
    expect(reset.every((s) => s.status === 0 && s.error !== null)).toBe(true);
    expect(result.statusCounts).toEqual({ '200': 10, '404': 10 });
    const errors = Object.values(result.errorCounts).reduce((a, b) => a + b, 0);
    expect(errors).toBe(20);
    // The headline latency is of the answers wanted (2xx); every sample is summarized beside it.
    expect(result.expectedResponses).toBe(10);
    expect(result.latencyFromIntended.count).toBe(10);
    expect(result.latencyAll.fromIntended.count).toBe(40);
  });

  it('fast failures are not fast requests: latency and throughput of the expected answers only', async () => {
    const server = await startServer();
    // Three in four answered 404 at once, one in four 200 after 150 ms.
    const result = await runOpenLoop({
      baseUrl: server.url,
      count: 40,
      durationMs: 400,
      request: (i) => ({ method: 'GET', path: i % 4 === 0 ? '/delay/150' : '/missing' }),
    });
    expect(result.expectedResponses).toBe(10);
    expect(result.latencyFromSend.min).toBeGreaterThanOrEqual(150);
    expect(result.latencyAll.fromSend.p50).toBeLessThan(150);
    expect(result.throughputPerSec * 4).toBeCloseTo(result.responsesPerSec, 5);
    // A caller can say which other answers it wants (a 404 it asked for, say).
    const wanted = await runOpenLoop({
      baseUrl: server.url,
      count: 8,
      durationMs: 80,
      request: () => ({ method: 'GET', path: '/missing' }),
      expected: (x) => x.status === 404,
    });
    expect(wanted.expectedResponses).toBe(8);
    expect(wanted.latencyFromSend.count).toBe(8);
  });

  it('a connection per request: each request on a socket of its own, every socket opened used, none left open', async () => {
    const server = await startServer();
    const sockets = new Set<unknown>();
    const requestSockets: unknown[] = [];
    server.raw.on('connection', (socket) => sockets.add(socket));
    server.raw.on('request', (req: IncomingMessage) => requestSockets.push(req.socket));
    const result = await runOpenLoop({
      baseUrl: server.url,
      count: 60,
      durationMs: 600,
      connection: 'per-request',
      request: (i) => ({ method: 'GET', path: `/n/${i}` }),
    });
    expect(result.statusCounts).toEqual({ '200': 60 });
    expect(requestSockets.length).toBe(60);
    expect(new Set(requestSockets).size).toBe(60);
    // The probe before the run opens one connection of its own; a socket opened ahead that was not
    // ready in time is replaced by one opened at once, and closed at the end unused.
    const unused = result.connectionsAhead.opened - result.connectionsAhead.used;
    expect(sockets.size).toBe(61 + unused);
    await new Promise((r) => setTimeout(r, 100));
    expect(await new Promise<number>((r) => server.raw.getConnections((_e, n) => r(n)))).toBe(0);
  });

  it('histogram summaries agree with the raw samples', async () => {
    const server = await startServer();
    const result = await runOpenLoop({
      baseUrl: server.url,
      count: 300,
      durationMs: 1500,
      request: (i) => ({ method: 'GET', path: `/delay/${(i * 7) % 50}` }),
    });
    const raw = result.samples.map((s) => s.endMs - s.intendedMs).sort((a, b) => a - b);
    const exact = (p: number) => raw[Math.ceil((p / 100) * raw.length) - 1] as number;
    const close = (summary: number, value: number) =>
      expect(Math.abs(summary - value)).toBeLessThanOrEqual(value * 0.002 + 0.002);
    close(result.latencyFromIntended.p50, exact(50));
    close(result.latencyFromIntended.p90, exact(90));
    close(result.latencyFromIntended.p99, exact(99));
    expect(result.latencyFromIntended.max).toBeCloseTo(raw[raw.length - 1] as number, 3);
    expect(result.latencyFromIntended.mean).toBeCloseTo(
      raw.reduce((a, b) => a + b, 0) / raw.length,
      3,
    );
    const dispatch = result.samples.map((s) => s.sentMs - s.intendedMs);
    expect(result.dispatchError.max).toBeCloseTo(Math.max(...dispatch), 3);
    expect(result.generatorBehind).toBe(result.dispatchError.p99 > result.behindThresholdMs);
  });

  it('summarize() matches a known distribution', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    const s = summarize(values);
    expect(s.count).toBe(1000);
    expect(s.mean).toBeCloseTo(500.5, 6);
    expect(Math.abs(s.p50 - 500)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(s.p99 - 990)).toBeLessThanOrEqual(1);
    expect(s.max).toBe(1000);
    expect(s.min).toBe(1);
    expect(summarize([]).count).toBe(0);
  });

  it('rejects bad options before sending any request', async () => {
    const server = await startServer();
    const request = () => ({ method: 'GET' as const, path: '/' });
    await expect(
      runOpenLoop({ baseUrl: server.url, count: 0, durationMs: 1000, request }),
    ).rejects.toThrow(/count must be/);
    await expect(
      runOpenLoop({ baseUrl: server.url, count: 10, durationMs: 0, request }),
    ).rejects.toThrow(/durationMs must be > 0/);
    await expect(
      runOpenLoop({ baseUrl: server.url, count: 10, durationMs: -5, request }),
    ).rejects.toMatchObject({ code: 'ERR_LOADGEN_OPTION_INVALID' });
    await expect(
      runOpenLoop({ baseUrl: 'not a url', count: 10, durationMs: 100, request }),
    ).rejects.toThrow(/not a URL/);
    expect(server.requests).toBe(0);
    const closed = await startServer();
    const deadUrl = closed.url;
    await closed.close();
    const err = await runOpenLoop({ baseUrl: deadUrl, count: 10, durationMs: 100, request }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LoadgenError);
    expect((err as LoadgenError).code).toBe('ERR_LOADGEN_UNREACHABLE');
    expect((err as Error).message).toContain('is the server running');
  });
});

describe('stages of arrival rate', () => {
  it('schedules the integral of the rate exactly, at the due times of the closed form', () => {
    // 10/s for 2 s (20 requests), then 10 → 30/s over 2 s (40 more), then 0 → 4/s over 1 s (2
    // more).
    const stages = [
      { durationSec: 2, rate: 10 },
      { durationSec: 2, from: 10, to: 30 },
      { durationSec: 1, from: 0, to: 4 },
    ];
    const due = stageDueTimes(stages);
    expect(stagesCount(stages)).toBe(62);
    expect(due.length).toBe(62);
    for (let i = 1; i < due.length; i++)
      expect(due[i]).toBeGreaterThanOrEqual(due[i - 1] as number);
    expect(due[19]).toBeCloseTo(1900, 6); // constant stage: i / rate
    expect(due[20]).toBeCloseTo(2000, 6);
    // In the ramp Λ(t) = 20 + 10t + 5t²: the 30th request (k = 30) is due where 10t + 5t² = 10.
    expect(due[30]).toBeCloseTo(2000 + 1000 * (-1 + Math.sqrt(3)), 6);
    // The last ramp starts at rate 0: Λ = 60 + 2t², so k = 61 is due at t = √0.5.
    expect(due[61]).toBeCloseTo(4000 + 1000 * Math.sqrt(0.5), 6);
    // A falling ramp (40 → 0/s over 1 s: 20 requests) stays inside its stage.
    const falling = stageDueTimes([{ durationSec: 1, from: 40, to: 0 }]);
    expect(falling.length).toBe(20);
    expect(falling[19]).toBeLessThan(1000);
  });

  it('rejects stages that schedule nothing or make no sense', () => {
    expect(() => stageDueTimes([{ durationSec: 1, rate: 0.5 }])).toThrow(/no request/);
    expect(() => stageDueTimes([{ durationSec: 0, rate: 5 }])).toThrow(/durationSec must be > 0/);
    expect(() => stageDueTimes([{ durationSec: 1, from: -1, to: 5 }])).toThrow(/rates must be/);
  });

  it('runOpenLoop sends a ramp on its due times', async () => {
    const server = await startServer();
    const r = await runOpenLoop({
      baseUrl: server.url,
      stages: [{ durationSec: 1, from: 20, to: 60 }],
      connection: 'keep-alive',
      request: () => ({ method: 'GET', path: '/' }),
    });
    expect(r.count).toBe(40);
    expect(server.requests).toBe(40);
    expect(r.durationMs).toBe(1000);
    const expected = stageDueTimes([{ durationSec: 1, from: 20, to: 60 }]);
    for (const s of r.samples) expect(s.intendedMs).toBeCloseTo(expected[s.i] as number, 6);
    await expect(
      runOpenLoop({
        baseUrl: server.url,
        stages: [{ durationSec: 1, rate: 5 }],
        count: 5,
        request: () => ({ method: 'GET', path: '/' }),
      }),
    ).rejects.toThrow(/either stages/);
  });
});

describe('runClosedLoop', () => {
  it('measures a sustained rate with unique bodies', async () => {
    const server = await startServer();
    const result = await runClosedLoop({
      baseUrl: server.url,
      connections: 4,
      durationSec: 1,
      request: (i) => ({
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ n: i }),
      }),
    });
    expect(result.total).toBeGreaterThan(10);
    expect(result.requestsPerSec).toBeGreaterThan(0);
    expect(result.errors).toBe(0);
    expect(new Set(server.bodies).size).toBe(server.bodies.length);
    expect(server.bodies.length).toBeGreaterThanOrEqual(result.total);
    await expect(
      runClosedLoop({
        baseUrl: server.url,
        connections: 0,
        durationSec: 1,
        request: () => ({ method: 'GET', path: '/' }),
      }),
    ).rejects.toThrow(/connections/);
  });
});
