/**
 * How faithfully does a generator keep an open schedule? Against a local server (its own
 * process) answering after 0 ms and after 2000 ms, with arrival times recorded at the server,
 * for mailbench's open loop and for autocannon's overallRate, in the same run.
 * A benchmark: it prints figures (and writes bench/fidelity.json); it asserts nothing.
 *   pnpm --filter @mailbench/loadgen bench
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { runOpenLoop, summarize, type ConnectionMode } from '../src/index.ts';

interface Case {
  label: string;
  count: number;
  durationMs: number;
  connection: ConnectionMode;
}

const cases: Case[] = [
  { label: '150 req over 10 s (15/s)', count: 150, durationMs: 10_000, connection: 'per-request' },
  { label: '1000 req/s for 5 s', count: 5000, durationMs: 5000, connection: 'keep-alive' },
  { label: '3000 req/s for 5 s', count: 15_000, durationMs: 5000, connection: 'keep-alive' },
];
const delays = [0, 2000];
const AUTOCANNON_CONNECTIONS = 100;

const child: ChildProcess = fork(fileURLToPath(new URL('./arrival-server.ts', import.meta.url)), { execArgv: ['--import', 'tsx'] });
const [{ port }] = (await once(child, 'message')) as [{ port: number }];
const baseUrl = `http://127.0.0.1:${port}`;

async function ask<T>(message: object, type: string): Promise<T> {
  child.send(message);
  for (;;) {
    const [reply] = (await once(child, 'message')) as [{ type: string } & T];
    if (reply.type === type) return reply;
  }
}

/** Server-side view: |arrival − schedule| for the i-th arrival, and arrivals per whole second. */
function arrivalStats(arrivals: number[], count: number, durationMs: number) {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const t0 = sorted[0] ?? 0;
  const step = durationMs / count;
  const errors = sorted.map((t, i) => Math.abs(t - (t0 + i * step)));
  const perSecond: number[] = [];
  for (const t of sorted) {
    const s = Math.floor((t - t0) / 1000);
    perSecond[s] = (perSecond[s] ?? 0) + 1;
  }
  const full = Array.from({ length: Math.floor(durationMs / 1000) }, (_, k) => perSecond[k] ?? 0);
  return { arrived: sorted.length, error: summarize(errors), perSecMin: Math.min(...full), perSecMax: Math.max(...full) };
}

interface Row {
  tool: string;
  case: string;
  delayMs: number;
  connection: string;
  arrived: number;
  clientDispatchP50: number | null;
  clientDispatchP99: number | null;
  clientDispatchMax: number | null;
  serverErrorP50: number;
  serverErrorP99: number;
  serverErrorMax: number;
  perSecMin: number;
  perSecMax: number;
  expectedPerSec: number;
  note: string;
}

const rows: Row[] = [];
for (const delayMs of delays) {
  for (const c of cases) {
    const rate = c.count / (c.durationMs / 1000);
    // mailbench open loop
    await ask({ type: 'reset', delayMs }, 'reset-done');
    const result = await runOpenLoop({
      baseUrl,
      count: c.count,
      durationMs: c.durationMs,
      connection: c.connection,
      timeoutMs: 30_000,
      warmup: { count: Math.min(500, Math.ceil(rate)), durationMs: 1000 },
      request: (i) => ({ method: 'GET', path: `/r/${i}` }),
    });
    await new Promise((r) => setTimeout(r, 100));
    const { arrivals: ours } = await ask<{ arrivals: number[] }>({ type: 'arrivals' }, 'arrivals');
    // Warm-up requests arrived before t0: keep only the measured ones.
    const measured = ours.filter((t) => t >= result.t0EpochMs - 1);
    const s1 = arrivalStats(measured, c.count, c.durationMs);
    rows.push({
      tool: 'mailbench open loop',
      case: c.label,
      delayMs,
      connection: c.connection,
      arrived: s1.arrived,
      clientDispatchP50: result.dispatchError.p50,
      clientDispatchP99: result.dispatchError.p99,
      clientDispatchMax: result.dispatchError.max,
      serverErrorP50: s1.error.p50,
      serverErrorP99: s1.error.p99,
      serverErrorMax: s1.error.max,
      perSecMin: s1.perSecMin,
      perSecMax: s1.perSecMax,
      expectedPerSec: rate,
      note: result.generatorBehind ? 'generator behind' : '',
    });
    process.stderr.write(`done: mailbench ${c.label}, delay ${delayMs} ms\n`);

    // autocannon overallRate, same server, same schedule; stopped after 3× the schedule if it stalls.
    await ask({ type: 'reset', delayMs }, 'reset-done');
    let stalled = false;
    await new Promise<void>((resolve) => {
      const instance = autocannon(
        { url: baseUrl, connections: AUTOCANNON_CONNECTIONS, overallRate: rate, amount: c.count, timeout: 30 },
        () => resolve(),
      );
      const guard = setTimeout(() => {
        stalled = true;
        instance.stop();
      }, c.durationMs * 3 + delayMs);
      instance.on('done', () => clearTimeout(guard));
    });
    const { arrivals: theirs } = await ask<{ arrivals: number[] }>({ type: 'arrivals' }, 'arrivals');
    const s2 = arrivalStats(theirs, c.count, c.durationMs);
    rows.push({
      tool: `autocannon overallRate (${AUTOCANNON_CONNECTIONS} conn.)`,
      case: c.label,
      delayMs,
      connection: 'keep-alive',
      arrived: s2.arrived,
      clientDispatchP50: null,
      clientDispatchP99: null,
      clientDispatchMax: null,
      serverErrorP50: s2.error.p50,
      serverErrorP99: s2.error.p99,
      serverErrorMax: s2.error.max,
      perSecMin: s2.perSecMin,
      perSecMax: s2.perSecMax,
      expectedPerSec: rate,
      note: stalled ? `stopped after ${(c.durationMs * 3 + delayMs) / 1000} s, ${s2.arrived}/${c.count} sent` : '',
    });
    process.stderr.write(`done: autocannon ${c.label}, delay ${delayMs} ms\n`);
  }
}
child.disconnect();

const f = (v: number | null) => (v === null ? '–' : v.toFixed(1));
console.log(`Machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('');
console.log('| generator | schedule | server delay | connections | arrived | client dispatch error p50 / p99 / max (ms) | server-side schedule error p50 / p99 / max (ms) | arrivals per second min–max (expected) | note |');
console.log('|---|---|---:|---|---:|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.tool} | ${r.case} | ${r.delayMs} ms | ${r.connection} | ${r.arrived} | ${f(r.clientDispatchP50)} / ${f(r.clientDispatchP99)} / ${f(r.clientDispatchMax)} | ` +
      `${f(r.serverErrorP50)} / ${f(r.serverErrorP99)} / ${f(r.serverErrorMax)} | ${r.perSecMin}–${r.perSecMax} (${r.expectedPerSec}) | ${r.note} |`,
  );
}
writeFileSync(fileURLToPath(new URL('./fidelity.json', import.meta.url)), `${JSON.stringify({ machine: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, rows }, null, 2)}\n`);
