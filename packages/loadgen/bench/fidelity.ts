/**
 * How faithfully does a generator keep an open schedule, as the server sees it? A local server
 * (its own process) records when each request arrives; mailbench's open loop, autocannon's
 * overallRate and JMeter's classic thread group (where installed) run against it in one run.
 * A benchmark: it prints figures (and writes bench/fidelity.json); it asserts nothing.
 *   pnpm --filter @mailbench/loadgen bench [--tools mailbench,autocannon,jmeter] [--rates 15,1000] [--connections keep-alive] [--server-awake]
 * --server-awake runs mailbench's cases a second time with the server kept awake by a 1 ms timer:
 * the difference is the part of the server-side error that is the server's (and its CPU's) wake-up.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runOpenLoop, summarize, type ConnectionMode, type LatencySummary } from '../src/index.ts';
// The runner owns the JMeter launcher (Debian's JMeter 2.13 needs it) and the exported plan.
import { findJMeter, jmeterCommand, runCommand } from '../../runner/src/engines.ts';
import { jmeterPlan } from '../../runner/src/export.ts';

const { values: args } = parseArgs({
  options: {
    tools: { type: 'string', default: 'mailbench,autocannon,jmeter' },
    rates: { type: 'string' },
    connections: { type: 'string', default: 'keep-alive,per-request' },
    'server-awake': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log('pnpm --filter @mailbench/loadgen bench [--tools mailbench,autocannon,jmeter] [--rates 15,100,1000,5000] [--connections keep-alive,per-request] [--server-awake]');
  process.exit(0);
}
const tools = new Set(String(args.tools).split(','));
const onlyRates = args.rates ? new Set(args.rates.split(',').map(Number)) : null;
const connections = new Set(String(args.connections).split(','));

interface Case {
  rate: number;
  seconds: number;
  connection: ConnectionMode;
  delayMs: number;
}
const secondsAt = (rate: number) => (rate < 50 ? 10 : 5);
const cases: Case[] = [
  ...[15, 100, 1000, 5000].map((rate) => ({ rate, seconds: secondsAt(rate), connection: 'keep-alive' as const, delayMs: 0 })),
  ...[15, 100, 1000, 2000, 3000, 5000].map((rate) => ({ rate, seconds: secondsAt(rate), connection: 'per-request' as const, delayMs: 0 })),
  { rate: 15, seconds: 10, connection: 'per-request' as const, delayMs: 2000 },
  { rate: 1000, seconds: 5, connection: 'keep-alive' as const, delayMs: 2000 },
].filter((c) => (!onlyRates || onlyRates.has(c.rate)) && connections.has(c.connection));
const AUTOCANNON_CONNECTIONS = 100;
const AUTOCANNON_RATES = [15, 100, 1000, 5000];
const JMETER_RATES = [15, 100, 1000];

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
type Arrivals = { byIndex: Array<number | null>; inOrder: number[] };

/** Arrivals per whole second of the schedule, counted from `start` (epoch ms). */
function perSecond(arrivals: number[], start: number, seconds: number): { min: number; max: number } {
  const counts = new Array<number>(seconds).fill(0);
  for (const t of arrivals) {
    const s = Math.floor((t - start) / 1000);
    if (s >= 0 && s < seconds) counts[s] = (counts[s] as number) + 1;
  }
  return { min: Math.min(...counts), max: Math.max(...counts) };
}

interface ServerView {
  arrived: number;
  /** Removed from every (arrival − intended): the least of them, i.e. loopback transit plus the two processes' clock offset. */
  offsetMs: number | null;
  error: LatencySummary;
  perSecMin: number;
  perSecMax: number;
}

/** Request i's error: arrival − intended − offset, with the offset the least (arrival − intended) of the run. */
function byRequest(arrivals: Array<number | null>, t0EpochMs: number, intendedMs: number[], seconds: number): ServerView {
  const raw: number[] = [];
  for (let i = 0; i < intendedMs.length; i++) {
    const at = arrivals[i];
    if (at != null) raw.push(at - (t0EpochMs + (intendedMs[i] as number)));
  }
  const offset = raw.length ? Math.min(...raw) : 0;
  const arrivedAt = arrivals.filter((t): t is number => t != null);
  const ps = perSecond(arrivedAt, t0EpochMs + offset, seconds);
  return { arrived: raw.length, offsetMs: offset, error: summarize(raw.map((e) => e - offset)), perSecMin: ps.min, perSecMax: ps.max };
}

/** For tools whose per-request intention is not known: the k-th arrival against first arrival + k·T/N. */
function byRank(arrivals: number[], count: number, seconds: number): ServerView {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const step = (seconds * 1000) / count;
  const ps = perSecond(sorted, first, seconds);
  return { arrived: sorted.length, offsetMs: null, error: summarize(sorted.map((t, k) => Math.abs(t - (first + k * step)))), perSecMin: ps.min, perSecMax: ps.max };
}

interface Row {
  tool: string;
  rate: number;
  seconds: number;
  delayMs: number;
  connection: string;
  client: LatencySummary | null;
  server: ServerView;
  yardstick: 'by request' | 'by rank';
  note: string;
}
const rows: Row[] = [];
const progress = (s: string) => process.stderr.write(`${s}\n`);

if (tools.has('mailbench')) {
  for (const keepAwake of args['server-awake'] ? [false, true] : [false]) {
    for (const c of cases) {
      const run = `${c.rate}-${c.connection}-${c.delayMs}-${keepAwake ? 'awake' : 'idle'}`;
      await ask({ type: 'reset', delayMs: c.delayMs, run, keepAwake }, 'reset-done');
      const count = c.rate * c.seconds;
      const result = await runOpenLoop({
        baseUrl,
        count,
        durationMs: c.seconds * 1000,
        connection: c.connection,
        timeoutMs: 30_000,
        warmup: { count: c.rate, durationMs: 1000, request: (i) => ({ method: 'GET', path: `/w/${i}` }) },
        request: (i) => ({ method: 'GET', path: `/r/${run}/${i}` }),
      });
      await new Promise((r) => setTimeout(r, 100));
      const got = await ask<Arrivals>({ type: 'arrivals' }, 'arrivals');
      const server = byRequest(got.byIndex, result.t0EpochMs, result.samples.map((s) => s.intendedMs), c.seconds);
      const errors = Object.entries(result.errorCounts).map(([k, v]) => `${v} × ${k}`).join(', ');
      rows.push({
        tool: `mailbench open loop${keepAwake ? ' (server kept awake)' : ''}`,
        ...c,
        client: result.dispatchError,
        server,
        yardstick: 'by request',
        note: [result.generatorBehind ? 'generator behind' : '', errors].filter(Boolean).join('; '),
      });
      progress(`mailbench ${c.rate}/s ${c.connection}, server ${c.delayMs} ms${keepAwake ? ', kept awake' : ''}: server-side p99 ${server.error.p99} ms, client p99 ${result.dispatchError.p99} ms`);
    }
  }
}

if (tools.has('autocannon')) {
  for (const c of cases.filter((x) => x.connection === 'keep-alive' && AUTOCANNON_RATES.includes(x.rate) && x.delayMs === 0).concat(cases.filter((x) => x.rate === 15 && x.delayMs > 0))) {
    await ask({ type: 'reset', delayMs: c.delayMs }, 'reset-done');
    const count = c.rate * c.seconds;
    const limitMs = c.seconds * 3000 + c.delayMs;
    let stalled = false;
    await new Promise<void>((resolve) => {
      const instance = autocannon({ url: baseUrl, connections: AUTOCANNON_CONNECTIONS, overallRate: c.rate, amount: count, timeout: 30 }, () => resolve());
      const guard = setTimeout(() => {
        stalled = true;
        instance.stop();
      }, limitMs);
      instance.on('done', () => clearTimeout(guard));
    });
    const got = await ask<Arrivals>({ type: 'arrivals' }, 'arrivals');
    const server = byRank(got.inOrder, count, c.seconds);
    rows.push({
      tool: `autocannon overallRate (${AUTOCANNON_CONNECTIONS} conn.)`,
      ...c,
      connection: 'keep-alive',
      client: null,
      server,
      yardstick: 'by rank',
      note: stalled ? `stopped after ${limitMs / 1000} s, ${server.arrived}/${count} sent` : '',
    });
    progress(`autocannon ${c.rate}/s, server ${c.delayMs} ms: server-side p99 ${server.error.p99} ms`);
  }
}

const jmeterHome = tools.has('jmeter') ? findJMeter() : null;
if (tools.has('jmeter') && !jmeterHome) progress('JMeter is not installed (pnpm setup:engines): its rows are left out');
if (jmeterHome) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailbench-fidelity-'));
  for (const rate of JMETER_RATES.filter((r) => !onlyRates || onlyRates.has(r))) {
    const seconds = secondsAt(rate);
    const count = rate * seconds;
    await ask({ type: 'reset', delayMs: 0 }, 'reset-done');
    const plan = path.join(dir, `plan-${rate}.jmx`);
    writeFileSync(plan, jmeterPlan({ count, durationSec: seconds, stages: null }, { timeoutSec: 30 }, baseUrl, ['fidelity benchmark']));
    const cmd = jmeterCommand(jmeterHome, ['-n', '-t', plan, '-l', path.join(dir, `out-${rate}.jtl`), '-j', path.join(dir, 'jmeter.log')]);
    const ran = await runCommand(cmd.command, cmd.args, { cwd: dir, timeoutMs: 120_000 });
    const got = await ask<Arrivals>({ type: 'arrivals' }, 'arrivals');
    const server = byRank(got.inOrder, count, seconds);
    rows.push({
      tool: 'JMeter 2.13 (N threads, ramp-up T, loop 1)',
      rate,
      seconds,
      delayMs: 0,
      connection: 'per-request',
      client: null,
      server,
      yardstick: 'by rank',
      note: ran.code === 0 ? '' : `JMeter exited with ${ran.code}`,
    });
    progress(`JMeter ${rate}/s: server-side p99 ${server.error.p99} ms`);
  }
  rmSync(dir, { recursive: true, force: true });
}
child.disconnect();

const f = (v: number | null | undefined) => (v == null ? '–' : v.toFixed(2));
const triple = (s: LatencySummary | null) => (s ? `${f(s.p50)} / ${f(s.p99)} / ${f(s.max)}` : '– / – / –');
console.log(`Machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('');
console.log('| generator | rate | server delay | connections | arrived | server-side error p50 / p99 / max (ms) | client dispatch error p50 / p99 / max (ms) | arrivals per second min–max | note |');
console.log('|---|---:|---:|---|---:|---|---|---|---|');
for (const r of rows) {
  const yard = r.yardstick === 'by rank' ? ' (by rank)' : '';
  console.log(
    `| ${r.tool} | ${r.rate}/s × ${r.seconds} s | ${r.delayMs} ms | ${r.connection} | ${r.server.arrived} | ${triple(r.server.error)}${yard} | ${triple(r.client)} | ` +
      `${r.server.perSecMin}–${r.server.perSecMax} (${r.rate}) | ${r.note} |`,
  );
}
writeFileSync(
  fileURLToPath(new URL('./fidelity.json', import.meta.url)),
  `${JSON.stringify({ machine: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, date: new Date().toISOString(), rows }, null, 2)}\n`,
);
