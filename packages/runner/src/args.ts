/** `pnpm bench` flags: a pure function from argv to a plan, tested without starting a process. */
import { parseArgs } from 'node:util';
import { parseDurationMs, parseLatency, type LatencySpec } from '@mailbench/smtp-sink';
import type { RateStage } from '@mailbench/loadgen';
import { isVariant, VARIANTS, type Variant } from '@mailbench/target-api/contract';
import { REFERENCE_NAMES, type ReferenceSettings } from './reference-targets.ts';
import { CELL_ENGINES, type CellEngine } from './jmeter-cell.ts';
import { isRunnable, type Runnable } from './subjects.ts';
import { UsageError } from './errors.ts';
import { withStages, type Scenario } from './scenario.ts';
import { EXTERNAL, type TargetSpec } from './subjects.ts';
import { EXPORT_ENGINES, type ExportEngine } from './export.ts';
import { parseThreshold, THRESHOLD_METRICS, type Threshold } from './thresholds.ts';

export const MONGO_ENGINES = ['auto', 'mongod', 'standin'] as const;
export type MongoEngineChoice = (typeof MONGO_ENGINES)[number];

export interface BenchArgs {
  help: boolean;
  list: boolean;
  /** A scenario name (scenarios/NAME.json) or the path of a scenario file. */
  scenario: string;
  /** null: the repository's results/ folder. */
  out: string | null;
  mongoEngine: MongoEngineChoice;
  mongoUri: string | null;
  quick: boolean;
  /** Print summary.json on stdout instead of the Markdown summary. */
  json: boolean;
  /** Scale the matrix to this stack's measured limit, at the original's ratios. */
  aroundLimit: boolean;
  /** Where the SMTP sink listens (--smtp-host, --smtp-port); null: 127.0.0.1 and a free port. */
  sink: { host: string | null; port: number | null };
  /** --export ENGINE: write that engine's script for the scenario instead of running it. */
  exportEngine: ExportEngine | null;
  /** Scenario fields the flags override (only those given), already parsed. */
  overrides: {
    variants?: Runnable[];
    requests?: number[];
    durationSec?: number;
    smtpLatency?: LatencySpec;
    repeats?: number;
    capacity?: boolean;
    hashCost?: number;
    /** Several values: a sweep of that factor. */
    hashCosts?: number[];
    smtpConnections?: number[];
    /** Agenda's processEvery in ms; several values sweep it. */
    agendaProcessEveryMs?: number[];
    /** The job queues' concurrency (agenda and bullmq); several values sweep it. */
    queueConcurrency?: number[];
    stages?: RateStage[];
    sloP99Ms?: number;
    stepSec?: number;
    connection?: 'per-request' | 'keep-alive';
    aaControl?: Variant;
    engine?: CellEngine;
    flaskWorkers?: number;
    flaskWorkerClass?: ReferenceSettings['workerClass'];
    passwordHash?: ReferenceSettings['passwordHash'];
    /** Added to the scenario's own thresholds. */
    thresholds?: Threshold[];
    /** --target URL [--label NAME] [--target-mongo-uri URI]. */
    target?: TargetSpec;
  };
}

/** --help, with the scenarios found in scenarios/ and their descriptions. */
export function benchHelp(scenarios: Array<{ name: string; description: string }>): string {
  const width = Math.max(...scenarios.map((s) => s.name.length), 8);
  const list = scenarios.map((s) => `  ${s.name.padEnd(width)}  ${s.description}`).join('\n');
  return `Usage: pnpm bench [options]

Runs every variant of the sign-up API through the scenario's request matrix and writes
results/<run-id>/ (run.json, one JSON per cell, summary.json, summary.md, report.html).

Options (flags override the scenario):
  --scenario NAME|PATH   scenario in scenarios/NAME.json, or a scenario file (default: default)
  --variants LIST        comma-separated subset of: ${VARIANTS.join(', ')};
                         or the reference targets: ${REFERENCE_NAMES.join(', ')}
  --requests LIST        request counts, e.g. 750,800                 (scenario's)
  --duration DUR         measured window per cell: 60s, 1.5m, 90000ms; a bare number is seconds (scenario's)
  --smtp-latency SPEC    sink latency: 500ms, uniform:100ms-300ms, normal:200ms,50ms, lognormal:200ms,2s
  --repeats N            repeats of each cell, interleaved A B C A B C (scenario's)
  --stages LIST          a load profile instead of --requests/--duration: stages of arrival rate,
                         RATE/s:DUR or FROM-TO/s:DUR (a linear ramp), e.g. 10/s:20s,10-40/s:60s
  --hash-cost N[,N…]     scrypt log2(N) per sign-up, 0 = off          (scenario's; default scenarios 14)
                         several values sweep it: every variant once per value (inline.h12, …)
  --smtp-connections N[,N…]  the SMTP connection budget of every variant (worker-pool splits it
                         across its threads; default 5); several values sweep it (inline.c10, …)
  --agenda-process-every MS[,MS…]  agenda: how often it looks for due jobs (default 5000);
                         several values sweep it (agenda.p1000, …)
  --queue-concurrency N[,N…]  agenda and bullmq: jobs sent at once (default: the SMTP connection
                         budget); several values sweep it (bullmq.q20, …)
  --slo-p99 DUR          breaking point: the SLO's p99 latency from intended (scenario's; default 2s)
  --step DUR             breaking point: the measured window of each step (scenario's; >= 20 s)
  --connection MODE      per-request | keep-alive                     (scenario's)
  --threshold EXPR       fail the run (exit 99) unless every cell it names meets it; repeatable:
                         [LABEL:]METRIC OP VALUE, e.g. p99<500ms, inline:p99<2s, lost==0, errors<1%
                         metrics: ${THRESHOLD_METRICS.join(', ')} (latency from intended)
  --aa-control VARIANT   also run VARIANT as a twin (VARIANT-aa): the spread between the two is the noise floor
  --engine NAME          what sends each cell's schedule: mailbench (default) | jmeter (the original's
                         plan: N threads started over the window, loop 1; JMeter's log read back)
  --flask-workers N      gunicorn workers of the Flask reference targets          (scenario's; 20)
  --flask-worker-class K gevent | sync: gunicorn's worker class for them        (scenario's; gevent)
  --password-hash MODE   none | werkzeug: how the Flask targets store passwords   (scenario's; none)
  --capacity             also run the closed-loop capacity probe per variant
  --around-limit         probe every variant's capacity first, then run the request counts at the
                         ratios 750/800/850/1000 over 60 s had to the original stack's ~13/s
                         (0.96, 1.03, 1.09, 1.28) of the slowest variant's capacity here
  --quick                same arrival rates, shorter windows: 10 s windows with request counts
                         scaled to match (750 over 60 s becomes 125 over 10 s), warm-up <= 2 s,
                         drain bound <= 60 s, capacity probe <= 5 s
  --target URL           load an API the harness did not start (base URL; POST URL/api/users) instead
                         of the built-in variants; the harness still runs the SMTP sink and counts
                         the e-mails (see the README's "Your own API" for the contract)
  --label NAME           what the target's cells are called and filed as   (default: external)
  --target-mongo-uri URI the database the target stores its users in (collection "users"), for
                         the stored-users check; without it the check is skipped and said to be
  --smtp-host HOST       interface the SMTP sink listens on               (default: 127.0.0.1)
  --smtp-port N          port the SMTP sink listens on, for a target configured with a fixed one
                         (default: a free port)
  --export ENGINE        write the scenario as a script for ${EXPORT_ENGINES.join(' | ')} (with --target
                         URL, default http://127.0.0.1:3000) into --out, and exit without running
  --out DIR              results folder                               (default: the repository's results/)
  --mongo ENGINE         ${MONGO_ENGINES.join(' | ')}                      (default: auto)
  --mongo-uri URI        use this MongoDB (also MONGODB_URI)
  --json                 print summary.json on stdout instead of the Markdown summary
  --list                 list the scenarios and exit
  -h, --help             show this help

Scenarios:
${list}

Exit codes: 0 done, 1 unexpected failure or a result file that could not be written, 2 bad
usage or scenario, 3 finished but a result is invalid, 99 a threshold failed (wins over 3), 130 interrupted (partial results are written
and marked incomplete).
`;
}

const OPTIONS = {
  scenario: { type: 'string' },
  variants: { type: 'string' },
  requests: { type: 'string' },
  duration: { type: 'string' },
  'smtp-latency': { type: 'string' },
  repeats: { type: 'string' },
  'hash-cost': { type: 'string' },
  'smtp-connections': { type: 'string' },
  'agenda-process-every': { type: 'string' },
  'queue-concurrency': { type: 'string' },
  stages: { type: 'string' },
  'slo-p99': { type: 'string' },
  step: { type: 'string' },
  connection: { type: 'string' },
  'aa-control': { type: 'string' },
  engine: { type: 'string' },
  'flask-workers': { type: 'string' },
  'flask-worker-class': { type: 'string' },
  'password-hash': { type: 'string' },
  threshold: { type: 'string', multiple: true },
  capacity: { type: 'boolean' },
  'around-limit': { type: 'boolean' },
  quick: { type: 'boolean' },
  out: { type: 'string' },
  mongo: { type: 'string' },
  'mongo-uri': { type: 'string' },
  target: { type: 'string' },
  label: { type: 'string' },
  'target-mongo-uri': { type: 'string' },
  'smtp-host': { type: 'string' },
  'smtp-port': { type: 'string' },
  export: { type: 'string' },
  json: { type: 'boolean' },
  list: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Partial<Record<keyof typeof OPTIONS, string | boolean | string[]>>;

function usage(message: string): UsageError {
  return new UsageError('ERR_USAGE', message);
}

function list(flag: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw usage(`${flag} needs a comma-separated list, got "${text}"`);
  return items;
}

/** A comma-separated list of whole numbers >= 1, each once, in the order given. */
function positiveInts(flag: string, text: string): number[] {
  return [...new Set(list(flag, text).map((c) => positiveInt(flag, c)))];
}

function positiveInt(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw usage(`${flag} must be a whole number >= ${min}, got "${text}"`);
  return n;
}

function variantList(text: string, flag = '--variants'): Runnable[] {
  const names = list(flag, text);
  for (const v of names) if (!isRunnable(v)) throw usage(`${flag}: unknown variant "${v}"; valid: ${VARIANTS.join(', ')}, and the reference targets ${REFERENCE_NAMES.join(', ')}`);
  return [...new Set(names)] as Runnable[];
}

function durationSec(text: string, flag = '--duration'): number {
  // A bare number is seconds here, like the scenario's durationSec.
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) * 1000 : parseDurationMs(text);
  if (!Number.isFinite(ms) || ms <= 0) throw usage(`${flag} must be a positive duration such as 60s, 1.5m or 1500ms, got "${text}"`);
  return ms / 1000;
}

/** "10/s:20s,10-40/s:60s": a constant stage, then a linear ramp. */
export function parseStages(text: string): RateStage[] {
  return list('--stages', text).map((item) => {
    const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?\/s:(.+)$/.exec(item);
    if (!m) throw usage(`--stages: "${item}" is not RATE/s:DURATION or FROM-TO/s:DURATION (e.g. 10/s:20s or 10-40/s:1m)`);
    const seconds = durationSec(m[3] as string, '--stages');
    return m[2] === undefined ? { durationSec: seconds, rate: Number(m[1]) } : { durationSec: seconds, from: Number(m[1]), to: Number(m[2]) };
  });
}

function hashCost(text: string): number {
  const n = positiveInt('--hash-cost', text, 0);
  if (n === 1 || n > 20) throw usage(`--hash-cost must be 0 (off) or 2-20, got "${text}"`);
  return n;
}

function latency(text: string): LatencySpec {
  try {
    return parseLatency(text, '--smtp-latency');
  } catch (err) {
    throw usage((err as Error).message);
  }
}

function mongoUri(text: string | undefined, flag = '--mongo-uri'): string | null {
  if (text === undefined) return null;
  if (!/^mongodb(\+srv)?:\/\/[^/\s]+/.test(text)) throw usage(`${flag} must be a MongoDB connection string such as mongodb://127.0.0.1:27017/app, got "${text}"`);
  return text;
}

function targetUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`--target must be a base URL such as http://127.0.0.1:3000, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--target must be an http:// or https:// URL, got "${text}"`);
  if (url.search || url.hash) throw usage(`--target is a base URL (the sign-up is POST <URL>/api/users): drop the query or fragment in "${text}"`);
  return url.href.replace(/\/$/, '');
}

/** --target and its companions; every one of them without --target is a mistake worth saying. */
function readTarget(values: Values): TargetSpec | undefined {
  const url = values.target as string | undefined;
  const label = values.label as string | undefined;
  const db = values['target-mongo-uri'] as string | undefined;
  if (url === undefined) {
    if (label !== undefined || db !== undefined) throw usage(`${label !== undefined ? '--label' : '--target-mongo-uri'} goes with --target URL`);
    return undefined;
  }
  if (label !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(label)) throw usage(`--label must be lowercase letters, digits, '.', '_' or '-', got "${label}"`);
  const targetDb = mongoUri(db, '--target-mongo-uri');
  if (targetDb !== null && !/^mongodb(\+srv)?:\/\/[^/]+\/[^/?]+/.test(targetDb)) throw usage(`--target-mongo-uri must name the database the target uses (mongodb://host:port/DATABASE), got "${targetDb}"`);
  return { url: targetUrl(url), label: label ?? EXTERNAL, mongoUri: targetDb };
}

function sinkPort(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw usage(`--smtp-port must be a port number 1-65535, got "${text}"`);
  return n;
}

function exportEngine(text: string | undefined): ExportEngine | null {
  if (text === undefined) return null;
  if (!(EXPORT_ENGINES as readonly string[]).includes(text)) throw usage(`--export must be one of ${EXPORT_ENGINES.join(', ')}, got "${text}"`);
  return text as ExportEngine;
}

function oneOf<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw usage(`${flag} must be one of ${choices.join(', ')}, got "${text}"`);
  return text as T;
}

function connection(text: string): 'per-request' | 'keep-alive' {
  return oneOf('--connection', text, ['per-request', 'keep-alive'] as const);
}

/** Each override flag given, parsed into its typed value. */
function readOverrides(values: Values): BenchArgs['overrides'] {
  const str = (k: keyof typeof OPTIONS) => values[k] as string | undefined;
  const o: BenchArgs['overrides'] = {};
  const given = <T>(text: string | undefined, parse: (t: string) => T): T | undefined => (text === undefined ? undefined : parse(text));
  const set = <K extends keyof BenchArgs['overrides']>(key: K, value: BenchArgs['overrides'][K] | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set('variants', given(str('variants'), (t) => variantList(t)));
  set('requests', given(str('requests'), (t) => positiveInts('--requests', t)));
  set('durationSec', given(str('duration'), durationSec));
  set('smtpLatency', given(str('smtp-latency'), latency));
  set('repeats', given(str('repeats'), (t) => positiveInt('--repeats', t)));
  const costs = given(str('hash-cost'), (t) => [...new Set(list('--hash-cost', t).map(hashCost))]);
  if (costs?.length === 1) o.hashCost = costs[0] as number;
  else set('hashCosts', costs);
  set('smtpConnections', given(str('smtp-connections'), (t) => positiveInts('--smtp-connections', t)));
  set('agendaProcessEveryMs', given(str('agenda-process-every'), (t) => positiveInts('--agenda-process-every', t)));
  set('queueConcurrency', given(str('queue-concurrency'), (t) => positiveInts('--queue-concurrency', t)));
  const sweeps = [o.hashCosts, o.smtpConnections, o.agendaProcessEveryMs, o.queueConcurrency].filter((v) => (v?.length ?? 0) > 1);
  if (sweeps.length > 1) throw usage('sweep one factor at a time: one of --hash-cost, --smtp-connections, --agenda-process-every, --queue-concurrency with several values');
  set('stages', given(str('stages'), parseStages));
  if (o.stages && (o.requests || o.durationSec !== undefined)) throw usage('--stages replaces --requests and --duration; give one or the other');
  set('sloP99Ms', given(str('slo-p99'), (t) => durationSec(t, '--slo-p99') * 1000));
  set('stepSec', given(str('step'), (t) => durationSec(t, '--step')));
  set('connection', given(str('connection'), connection));
  set('aaControl', given(str('aa-control'), (t) => {
    const [v] = variantList(t, '--aa-control');
    if (!isVariant(v!)) throw usage(`--aa-control: ${v} is a reference target; the A/A twin is for the built-in variants (${VARIANTS.join(', ')})`);
    return v;
  }));
  set('engine', given(str('engine'), (t) => oneOf('--engine', t, CELL_ENGINES)));
  set('flaskWorkers', given(str('flask-workers'), (t) => positiveInt('--flask-workers', t)));
  set('flaskWorkerClass', given(str('flask-worker-class'), (t) => oneOf('--flask-worker-class', t, ['gevent', 'sync'] as const)));
  set('passwordHash', given(str('password-hash'), (t) => oneOf('--password-hash', t, ['none', 'werkzeug'] as const)));
  const thresholds = values.threshold as string[] | undefined;
  if (thresholds) o.thresholds = thresholds.map(parseThreshold);
  if (values.capacity === true) o.capacity = true;
  set('target', readTarget(values));
  if (o.target) {
    const builtIn = [o.variants && '--variants', o.aaControl && '--aa-control', (o.hashCost !== undefined || o.hashCosts) && '--hash-cost', o.smtpConnections && '--smtp-connections', o.agendaProcessEveryMs && '--agenda-process-every', o.queueConcurrency && '--queue-concurrency'].filter(Boolean);
    if (builtIn.length > 0) throw usage(`${builtIn.join(', ')} set${builtIn.length === 1 ? 's' : ''} the built-in API, which --target replaces; the target has its own settings`);
  }
  return o;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const args = [...argv];
  while (args[0] === '--') args.shift();
  let values: Values;
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS }));
  } catch (err) {
    throw usage(`${(err as Error).message}. See --help for the flags.`);
  }
  const mongo = (values.mongo as string | undefined) ?? 'auto';
  if (!(MONGO_ENGINES as readonly string[]).includes(mongo)) throw usage(`--mongo must be one of ${MONGO_ENGINES.join(', ')}, got "${mongo}"`);
  const overrides = readOverrides(values);
  if (overrides.target && values['around-limit'] === true) throw usage('--around-limit probes the built-in variants\' capacity; it does not run against --target');
  const smtpHost = (values['smtp-host'] as string | undefined) ?? null;
  if (smtpHost !== null && !/^[A-Za-z0-9.:_-]+$/.test(smtpHost)) throw usage(`--smtp-host must be an interface address or host name such as 0.0.0.0, got "${smtpHost}"`);
  return {
    help: values.help === true,
    list: values.list === true,
    scenario: (values.scenario as string | undefined) ?? 'default',
    out: (values.out as string | undefined) ?? null,
    mongoEngine: mongo as MongoEngineChoice,
    mongoUri: mongoUri(values['mongo-uri'] as string | undefined),
    json: values.json === true,
    aroundLimit: values['around-limit'] === true,
    quick: values.quick === true,
    sink: { host: smtpHost, port: sinkPort(values['smtp-port'] as string | undefined) },
    exportEngine: exportEngine(values.export as string | undefined),
    overrides,
  };
}

export function applyOverrides(scenario: Scenario, o: BenchArgs['overrides']): Scenario {
  const out: Scenario = { ...scenario, smtp: { ...scenario.smtp }, capacity: { ...scenario.capacity }, transport: { ...scenario.transport }, breakingPoint: { ...scenario.breakingPoint } };
  if (o.variants) out.variants = o.variants;
  if (o.requests || o.durationSec !== undefined) out.stages = null;
  if (o.stages) out.stages = o.stages;
  if (o.requests) out.requests = o.requests;
  // Other request counts than the scenario's: every swept value runs them all.
  if (o.requests && out.sweep?.requestsAt) out.sweep = { factor: out.sweep.factor, values: out.sweep.values };
  if (o.engine) out.engine = o.engine;
  out.reference = {
    ...out.reference,
    ...(o.flaskWorkers !== undefined ? { workers: o.flaskWorkers } : {}),
    ...(o.flaskWorkerClass ? { workerClass: o.flaskWorkerClass } : {}),
    ...(o.passwordHash ? { passwordHash: o.passwordHash } : {}),
  };
  if (o.hashCosts) out.sweep = { factor: 'hashCost', values: o.hashCosts };
  if (o.smtpConnections?.length === 1) out.transport.maxConnections = o.smtpConnections[0] as number;
  else if (o.smtpConnections) out.sweep = { factor: 'smtpConnections', values: o.smtpConnections };
  if (o.agendaProcessEveryMs?.length === 1) out.agenda = { ...out.agenda, processEveryMs: o.agendaProcessEveryMs[0] as number };
  else if (o.agendaProcessEveryMs) out.sweep = { factor: 'agendaProcessEveryMs', values: o.agendaProcessEveryMs };
  if (o.queueConcurrency?.length === 1) {
    const concurrency = o.queueConcurrency[0] as number;
    out.agenda = { ...out.agenda, concurrency };
    out.bullmq = { ...out.bullmq, concurrency };
  } else if (o.queueConcurrency) out.sweep = { factor: 'queueConcurrency', values: o.queueConcurrency };
  if (o.sloP99Ms !== undefined) out.breakingPoint.sloP99Ms = o.sloP99Ms;
  if (o.stepSec !== undefined) out.breakingPoint.stepSec = o.stepSec;
  if (o.durationSec !== undefined) out.durationSec = o.durationSec;
  if (o.smtpLatency !== undefined) out.smtp.latency = o.smtpLatency;
  if (o.repeats !== undefined) out.repeats = o.repeats;
  if (o.hashCost !== undefined) out.hashCost = o.hashCost;
  if (o.connection !== undefined) out.connection = o.connection;
  // The scenario's A/A twin goes with its variant when --variants leaves that variant out.
  if (o.variants && out.aaControl && !o.variants.includes(out.aaControl)) out.aaControl = null;
  if (o.aaControl !== undefined) out.aaControl = o.aaControl;
  if (o.thresholds) out.thresholds = [...scenario.thresholds, ...o.thresholds];
  if (o.capacity) out.capacity.enabled = true;
  if (o.target) {
    out.target = o.target;
    out.variants = [EXTERNAL];
    out.aaControl = null;
  }
  return withStages(out);
}
