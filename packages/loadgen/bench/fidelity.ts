/**
 * How faithfully does a generator keep an open schedule, as the server sees it? A local server
 * (its own process) records when each request arrives; mailbench's open loop, a minimal Node
 * sender (the floor: prebuilt buffers written at their due times, no HTTP client), autocannon's
 * overallRate and JMeter's classic thread group (where installed) run against it, one after
 * another, each case `--repeats` times; the table gives the range over the repeats.
 * A benchmark: it prints figures (and writes bench/fidelity.json, or --out); it asserts nothing.
 *   pnpm --filter @mailbench/loadgen bench [--tools mailbench,floor,autocannon,jmeter] [--rates
 * 15,1000]
 *     [--connections keep-alive] [--server raw|http] [--repeats 3] [--server-awake] [--out
 * file.json]
 * --server http receives with node:http instead of the raw TCP responder (see arrival-server.ts).
 * --server-awake runs mailbench's cases a second time with the server kept awake by a 1 ms timer:
 * the difference is the part of the server-side error that is the server's (and its CPU's) wake-up.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runOpenLoop, summarize, type ConnectionMode, type LatencySummary } from '../src/index.ts';
// The runner owns the JMeter launcher (Debian's JMeter 2.13 needs it) and the exported plan.
import { findJMeter, jmeterCommand, runCommand } from '../../runner/src/services/engines.ts';
import { jmeterPlan } from '../../runner/src/export/export.ts';
import type { FloorDone, FloorStart } from './floor-sender.ts';

const USAGE = `pnpm --filter @mailbench/loadgen bench [options]
  --tools LIST            mailbench,floor,autocannon,jmeter (default: all; JMeter where pnpm setup:engines installed it)
  --rates LIST            only these rates per second (default: 15,100,1000,5000 keep-alive; 15 to 5000 per-request)
  --connections LIST      keep-alive,per-request (default: both)
  --server KIND           raw (default: a TCP responder that stamps bytes as they are read) or http (node:http)
  --repeats N             run every case N times (default 3); the table gives each figure's range
  --dispatch-threads K    mailbench's keep-alive cases sent by K open loops at once, each on a thread of
                          its own sending every K-th request (default 1; each rate must divide by K)
  --server-awake          run mailbench's cases again with the server kept awake by a 1 ms timer
  --out FILE              where the figures go (default packages/loadgen/bench/fidelity.json; a
                          relative path is taken from where the command was typed)`;
let args: {
  tools: string;
  rates?: string;
  connections: string;
  server: string;
  repeats: string;
  'dispatch-threads': string;
  'server-awake': boolean;
  out?: string;
  help?: boolean;
};
try {
  args = parseArgs({
    options: {
      tools: { type: 'string', default: 'mailbench,floor,autocannon,jmeter' },
      rates: { type: 'string' },
      connections: { type: 'string', default: 'keep-alive,per-request' },
      server: { type: 'string', default: 'raw' },
      repeats: { type: 'string', default: '3' },
      'dispatch-threads': { type: 'string', default: '1' },
      'server-awake': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values as typeof args;
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
function refuse(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}
const KNOWN_TOOLS = ['mailbench', 'floor', 'autocannon', 'jmeter'];
const tools = new Set(args.tools.split(','));
for (const t of tools)
  if (!KNOWN_TOOLS.includes(t))
    refuse(`--tools: unknown tool ${t} (known: ${KNOWN_TOOLS.join(', ')})`);
const onlyRates = args.rates ? new Set(args.rates.split(',').map(Number)) : null;
if (onlyRates && [...onlyRates].some((r) => !Number.isInteger(r) || r <= 0))
  refuse(`--rates: whole numbers > 0, got ${args.rates}`);
const connections = new Set(args.connections.split(','));
for (const c of connections)
  if (c !== 'keep-alive' && c !== 'per-request')
    refuse(`--connections: keep-alive or per-request, got ${c}`);
if (args.server !== 'raw' && args.server !== 'http')
  refuse(`--server: raw or http, got ${args.server}`);
const repeats = Number(args.repeats);
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 20)
  refuse(`--repeats: a whole number from 1 to 20, got ${args.repeats}`);
const dispatchThreads = Number(args['dispatch-threads']);
if (!Number.isInteger(dispatchThreads) || dispatchThreads < 1 || dispatchThreads > 8)
  refuse(`--dispatch-threads: a whole number from 1 to 8, got ${args['dispatch-threads']}`);
// A relative --out is taken from where the command was typed (pnpm runs the script in the package).
const outFile = args.out
  ? path.resolve(process.env.INIT_CWD ?? process.cwd(), args.out)
  : fileURLToPath(new URL('./fidelity.json', import.meta.url));
if (!existsSync(path.dirname(outFile)))
  refuse(`--out: the folder ${path.dirname(outFile)} does not exist`);

interface Case {
  rate: number;
  seconds: number;
  connection: ConnectionMode;
  delayMs: number;
}
const secondsAt = (rate: number) => (rate < 50 ? 10 : 5);
const cases: Case[] = [
  ...[15, 100, 1000, 5000].map((rate) => ({
    rate,
    seconds: secondsAt(rate),
    connection: 'keep-alive' as const,
    delayMs: 0,
  })),
  ...[15, 100, 1000, 1500, 2000, 2500, 3000, 5000].map((rate) => ({
    rate,
    seconds: secondsAt(rate),
    connection: 'per-request' as const,
    delayMs: 0,
  })),
  { rate: 15, seconds: 10, connection: 'per-request' as const, delayMs: 2000 },
  { rate: 1000, seconds: 5, connection: 'keep-alive' as const, delayMs: 2000 },
].filter((c) => (!onlyRates || onlyRates.has(c.rate)) && connections.has(c.connection));
if (cases.length === 0) refuse('no case left: --rates and --connections exclude every one');
for (const c of cases) {
  if (c.connection === 'keep-alive' && c.rate % dispatchThreads !== 0)
    refuse(
      `--dispatch-threads ${dispatchThreads}: the keep-alive rate ${c.rate}/s does not divide by it (pick --rates)`,
    );
}
const AUTOCANNON_CONNECTIONS = 100;
const AUTOCANNON_RATES = [15, 100, 1000, 5000];
const JMETER_RATES = [15, 100, 1000];

const child: ChildProcess = fork(
  fileURLToPath(new URL('./arrival-server.ts', import.meta.url)),
  [args.server],
  { execArgv: ['--import', 'tsx'] },
);
const [{ port }] = (await once(child, 'message')) as [{ port: number }];
const baseUrl = `http://127.0.0.1:${port}`;
// The floor's sender, in a process of its own like the server (started only when asked for).
const floor: ChildProcess | null = tools.has('floor')
  ? fork(fileURLToPath(new URL('./floor-sender.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx'],
    })
  : null;
// Ctrl-C: end both children (they also leave when this process's IPC channel closes).
process.once('SIGINT', () => {
  child.kill();
  floor?.kill();
  process.exit(130);
});

async function ask<T>(message: object, type: string): Promise<T> {
  child.send(message);
  for (;;) {
    const [reply] = (await once(child, 'message')) as [{ type: string } & T];
    if (reply.type === type) return reply;
  }
}
type Arrivals = { byIndex: Array<number | null>; inOrder: number[] };

/** Arrivals per whole second of the schedule, counted from `start` (epoch ms). */
function perSecond(
  arrivals: number[],
  start: number,
  seconds: number,
): { min: number; max: number } {
  const counts = new Array<number>(seconds).fill(0);
  for (const t of arrivals) {
    const s = Math.floor((t - start) / 1000);
    if (s >= 0 && s < seconds) counts[s] = (counts[s] as number) + 1;
  }
  return { min: Math.min(...counts), max: Math.max(...counts) };
}

interface ServerView {
  arrived: number;
  /**
   * Removed from every (arrival − intended): the least of them, i.e. loopback transit plus the two
   * processes' clock offset.
   */
  offsetMs: number | null;
  error: LatencySummary;
  perSecMin: number;
  perSecMax: number;
}

/**
 * Request i's error: arrival − intended − offset, with `dueEpochMs[i]` when request i was due on
 * the sender's clock (epoch ms) and the offset the least (arrival − due) of the run.
 */
function byRequest(
  arrivals: Array<number | null>,
  dueEpochMs: number[],
  seconds: number,
): ServerView {
  const raw: number[] = [];
  const arrivedAt: number[] = [];
  for (let i = 0; i < dueEpochMs.length; i++) {
    const at = arrivals[i];
    if (at == null) continue;
    raw.push(at - (dueEpochMs[i] as number));
    arrivedAt.push(at);
  }
  let offset = raw.length ? Number.POSITIVE_INFINITY : 0;
  for (const e of raw) if (e < offset) offset = e;
  let first = Number.POSITIVE_INFINITY;
  for (const t of dueEpochMs) if (t < first) first = t;
  const ps = perSecond(arrivedAt, first + offset, seconds);
  return {
    arrived: raw.length,
    offsetMs: offset,
    error: summarize(raw.map((e) => e - offset)),
    perSecMin: ps.min,
    perSecMax: ps.max,
  };
}

/**
 * For tools whose per-request intention is not known: the k-th arrival against first arrival +
 * k·T/N.
 */
function byRank(arrivals: number[], count: number, seconds: number): ServerView {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const step = (seconds * 1000) / count;
  const ps = perSecond(sorted, first, seconds);
  return {
    arrived: sorted.length,
    offsetMs: null,
    error: summarize(sorted.map((t, k) => Math.abs(t - (first + k * step)))),
    perSecMin: ps.min,
    perSecMax: ps.max,
  };
}

interface Row {
  tool: string;
  rate: number;
  seconds: number;
  delayMs: number;
  connection: string;
  repeat: number;
  client: LatencySummary | null;
  server: ServerView;
  yardstick: 'by request' | 'by rank';
  note: string;
}
const rows: Row[] = [];
const progress = (s: string) => process.stderr.write(`${s}\n`);
const settle = () => new Promise((r) => setTimeout(r, 100));
const MAILBENCH = 'mailbench open loop';
const MAILBENCH_AWAKE = 'mailbench open loop (server kept awake)';
const FLOOR = 'floor: minimal Node sender (no HTTP client)';

const jmeterHome = tools.has('jmeter') ? findJMeter() : null;
if (tools.has('jmeter') && !jmeterHome)
  progress('JMeter is not installed (pnpm setup:engines): its rows are left out');
const jmeterDir = jmeterHome ? mkdtempSync(path.join(os.tmpdir(), 'mailbench-fidelity-')) : null;

for (let repeat = 1; repeat <= repeats; repeat++) {
  const of = repeats > 1 ? ` [${repeat}/${repeats}]` : '';
  if (tools.has('mailbench')) {
    for (const keepAwake of args['server-awake'] ? [false, true] : [false]) {
      for (const c of cases) {
        const run = `${c.rate}-${c.connection}-${c.delayMs}-${keepAwake ? 'awake' : 'idle'}-${repeat}`;
        await ask({ type: 'reset', delayMs: c.delayMs, run, keepAwake }, 'reset-done');
        // With K dispatch threads, thread k sends requests k, k+K, k+2K, …: each its own open loop
        // at
        // rate/K over the whole window (its schedule starts when its thread is ready, so the
        // threads'
        // phases differ by chance; each request is judged against its own thread's schedule).
        const k = c.connection === 'keep-alive' ? dispatchThreads : 1;
        const results = await Promise.all(
          Array.from({ length: k }, (_, thread) =>
            runOpenLoop({
              baseUrl,
              count: (c.rate * c.seconds) / k,
              durationMs: c.seconds * 1000,
              connection: c.connection,
              timeoutMs: 30_000,
              warmup: {
                count: c.rate / k,
                durationMs: 1000,
                request: (i) => ({ method: 'GET', path: `/w/${i}` }),
              },
              request: (i) => ({ method: 'GET', path: `/r/${run}/${i * k + thread}` }),
            }),
          ),
        );
        await settle();
        const got = await ask<Arrivals>({ type: 'arrivals' }, 'arrivals');
        const due: number[] = new Array(c.rate * c.seconds);
        const dispatch: number[] = [];
        results.forEach((result, thread) => {
          for (const x of result.samples) {
            due[x.i * k + thread] = result.t0EpochMs + x.intendedMs;
            dispatch.push(x.sentMs - x.intendedMs);
          }
        });
        const server = byRequest(got.byIndex, due, c.seconds);
        const client = summarize(dispatch);
        const errorCounts: Record<string, number> = {};
        for (const r of results)
          for (const [code, n] of Object.entries(r.errorCounts))
            errorCounts[code] = (errorCounts[code] ?? 0) + n;
        const errors = Object.entries(errorCounts)
          .map(([code, n]) => `${n} × ${code}`)
          .join(', ');
        const behind = results.some((r) => r.generatorBehind);
        rows.push({
          tool: `${keepAwake ? MAILBENCH_AWAKE : MAILBENCH}${k > 1 ? `, ${k} dispatch threads` : ''}`,
          ...c,
          repeat,
          client,
          server,
          yardstick: 'by request',
          note: [behind ? 'generator behind' : '', errors].filter(Boolean).join('; '),
        });
        progress(
          `mailbench ${c.rate}/s ${c.connection}, server ${c.delayMs} ms${keepAwake ? ', kept awake' : ''}${of}: server-side p99 ${server.error.p99} ms, client p99 ${client.p99} ms`,
        );
      }
    }
  }

  if (floor) {
    for (const c of cases.filter((x) => x.delayMs === 0)) {
      const run = `${c.rate}-${c.connection}-floor-${repeat}`;
      await ask({ type: 'reset', delayMs: 0, run }, 'reset-done');
      const start: FloorStart = {
        port,
        run,
        count: c.rate * c.seconds,
        durationMs: c.seconds * 1000,
        connection: c.connection,
        warmupCount: c.rate,
      };
      floor.send(start);
      const done = await new Promise<FloorDone>((resolve, reject) => {
        const exited = (code: number | null) =>
          reject(new Error(`the floor sender exited (code ${code}) before answering`));
        floor.once('exit', exited);
        floor.once('message', (m: FloorDone) => {
          floor.off('exit', exited);
          resolve(m);
        });
      });
      await settle();
      const got = await ask<Arrivals>({ type: 'arrivals' }, 'arrivals');
      const server = byRequest(
        got.byIndex,
        done.intended.map((t) => done.t0EpochMs + t),
        c.seconds,
      );
      const client = summarize(done.sent.map((t, i) => t - (done.intended[i] as number)));
      rows.push({
        tool: FLOOR,
        ...c,
        repeat,
        client,
        server,
        yardstick: 'by request',
        note: server.arrived < start.count ? `${start.count - server.arrived} never arrived` : '',
      });
      progress(
        `floor ${c.rate}/s ${c.connection}${of}: server-side p99 ${server.error.p99} ms, client p99 ${client.p99} ms`,
      );
    }
  }

  if (tools.has('autocannon')) {
    for (const c of cases
      .filter(
        (x) =>
          x.connection === 'keep-alive' && AUTOCANNON_RATES.includes(x.rate) && x.delayMs === 0,
      )
      .concat(cases.filter((x) => x.rate === 15 && x.delayMs > 0))) {
      await ask({ type: 'reset', delayMs: c.delayMs }, 'reset-done');
      const count = c.rate * c.seconds;
      const limitMs = c.seconds * 3000 + c.delayMs;
      let stalled = false;
      await new Promise<void>((resolve) => {
        const instance = autocannon(
          {
            url: baseUrl,
            connections: AUTOCANNON_CONNECTIONS,
            overallRate: c.rate,
            amount: count,
            timeout: 30,
          },
          () => resolve(),
        );
        const guard = setTimeout(() => {
          stalled = true;
          instance.stop();
        }, limitMs);
        instance.on('done', () => clearTimeout(guard));
      });
      await settle();
      const got = await ask<Arrivals>({ type: 'arrivals' }, 'arrivals');
      const server = byRank(got.inOrder, count, c.seconds);
      rows.push({
        tool: `autocannon overallRate (${AUTOCANNON_CONNECTIONS} conn.)`,
        ...c,
        connection: 'keep-alive',
        repeat,
        client: null,
        server,
        yardstick: 'by rank',
        note: stalled ? `stopped after ${limitMs / 1000} s, ${server.arrived}/${count} sent` : '',
      });
      progress(
        `autocannon ${c.rate}/s, server ${c.delayMs} ms${of}: server-side p99 ${server.error.p99} ms`,
      );
    }
  }

  if (jmeterHome && jmeterDir && connections.has('per-request')) {
    for (const rate of JMETER_RATES.filter((r) => !onlyRates || onlyRates.has(r))) {
      const seconds = secondsAt(rate);
      const count = rate * seconds;
      await ask({ type: 'reset', delayMs: 0 }, 'reset-done');
      const plan = path.join(jmeterDir, `plan-${rate}.jmx`);
      writeFileSync(
        plan,
        jmeterPlan({ count, durationSec: seconds, stages: null }, { timeoutSec: 30 }, baseUrl, [
          'fidelity benchmark',
        ]),
      );
      const cmd = jmeterCommand(jmeterHome, [
        '-n',
        '-t',
        plan,
        '-l',
        path.join(jmeterDir, `out-${rate}-${repeat}.jtl`),
        '-j',
        path.join(jmeterDir, 'jmeter.log'),
      ]);
      const ran = await runCommand(cmd.command, cmd.args, { cwd: jmeterDir, timeoutMs: 120_000 });
      await settle();
      const got = await ask<Arrivals>({ type: 'arrivals' }, 'arrivals');
      const server = byRank(got.inOrder, count, seconds);
      rows.push({
        tool: 'JMeter 2.13 (N threads, ramp-up T, loop 1)',
        rate,
        seconds,
        delayMs: 0,
        connection: 'per-request',
        repeat,
        client: null,
        server,
        yardstick: 'by rank',
        note: ran.code === 0 ? '' : `JMeter exited with ${ran.code}`,
      });
      progress(`JMeter ${rate}/s${of}: server-side p99 ${server.error.p99} ms`);
    }
  }
}
if (jmeterDir) rmSync(jmeterDir, { recursive: true, force: true });
child.disconnect();
floor?.disconnect();

/** One line of the table: a tool's case over its repeats. */
interface Line {
  rows: Row[];
  first: Row;
}
const lines: Line[] = [];
for (const r of rows) {
  const line = lines.find(
    (l) =>
      l.first.tool === r.tool &&
      l.first.rate === r.rate &&
      l.first.connection === r.connection &&
      l.first.delayMs === r.delayMs,
  );
  if (line) line.rows.push(r);
  else lines.push({ rows: [r], first: r });
}
const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
/** A figure over the repeats: its range, or the one value. */
const range = (values: number[]) => {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
};
const over = (rs: Row[], pick: (r: Row) => LatencySummary | null) => {
  const got = rs.map(pick).filter((x): x is LatencySummary => x != null);
  return got.length
    ? `${range(got.map((x) => x.p50))} / ${range(got.map((x) => x.p99))} / ${range(got.map((x) => x.max))}`
    : '– / – / –';
};
console.log(
  `Machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; server: ${args.server}; ${repeats} repeat(s), ranges over them`,
);
console.log('');
console.log(
  '| generator | rate | server delay | connections | arrived | server-side error p50 / p99 / max (ms) | client dispatch error p50 / p99 / max (ms) | arrivals per second min–max | note |',
);
console.log('|---|---:|---:|---|---:|---|---|---|---|');
for (const { rows: rs, first: r } of lines) {
  const yard = r.yardstick === 'by rank' ? ' (by rank)' : '';
  const notes = [...new Set(rs.map((x) => x.note).filter(Boolean))].join('; ');
  console.log(
    `| ${r.tool} | ${r.rate}/s × ${r.seconds} s | ${r.delayMs} ms | ${r.connection} | ${range(rs.map((x) => x.server.arrived))} | ${over(rs, (x) => x.server.error)}${yard} | ${over(rs, (x) => x.client)} | ` +
      `${Math.min(...rs.map((x) => x.server.perSecMin))}–${Math.max(...rs.map((x) => x.server.perSecMax))} (${r.rate}) | ${notes} |`,
  );
}

// The issue's goals, judged on every repeat (a goal holds only if it held in each).
const holds = (rs: Row[], p99: number) =>
  rs.every((x) => x.server.error.p99 <= p99 && x.server.arrived === x.rate * x.seconds);
const verdicts: string[] = [];
for (const tool of [MAILBENCH, FLOOR]) {
  const mine = lines.filter((l) => l.first.tool === tool && l.first.delayMs === 0);
  if (mine.length === 0) continue;
  const at = (rate: number, connection: string) =>
    mine.find((l) => l.first.rate === rate && l.first.connection === connection)?.rows;
  const say = (label: string, rs: Row[] | undefined, ok: (rs: Row[]) => boolean) => {
    if (rs)
      verdicts.push(
        `${tool}: ${label}: ${ok(rs) ? 'met' : 'not met'} (server-side p99 ${range(rs.map((x) => x.server.error.p99))} ms)`,
      );
  };
  for (const connection of ['keep-alive', 'per-request']) {
    for (const rate of [15, 100])
      say(`p99 ≤ 1 ms at ${rate}/s, ${connection}`, at(rate, connection), (rs) => holds(rs, 1));
    say(`p99 ≤ 2 ms at 1000/s, ${connection}`, at(1000, connection), (rs) => holds(rs, 2));
  }
  const ka5000 = at(5000, 'keep-alive');
  say(
    '5000/s keep-alive with p99 ≤ 10 ms and every second within ±1 %',
    ka5000,
    (rs) =>
      holds(rs, 10) && rs.every((x) => x.server.perSecMin >= 4950 && x.server.perSecMax <= 5050),
  );
  const perRequest = mine
    .filter((l) => l.first.connection === 'per-request')
    .sort((x, y) => x.first.rate - y.first.rate);
  let highest = 0;
  for (const l of perRequest) {
    if (!holds(l.rows, 10)) break;
    highest = l.first.rate;
  }
  if (perRequest.length)
    verdicts.push(
      `${tool}: highest per-request rate with server-side p99 ≤ 10 ms in every repeat (and every rate below it): ${highest ? `${highest}/s` : 'none of those run'}`,
    );
}
if (verdicts.length) {
  console.log('');
  for (const v of verdicts) console.log(`- ${v}`);
}
writeFileSync(
  outFile,
  `${JSON.stringify({ machine: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, date: new Date().toISOString(), server: args.server, repeats, rows, verdicts }, null, 2)}\n`,
);
progress(`figures written to ${outFile}`);
