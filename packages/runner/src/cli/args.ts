/**
 * `pnpm bench` flags: a pure function from argv to a plan, tested without starting a process.
 * The flags themselves, with their parsers and help, are one table (flags.ts).
 */
import { parseArgs } from 'node:util';
import { EXPORT_ENGINES, type ExportEngine } from '../export/export.ts';
import { withStages } from '../config/scenario.ts';
import { BENCH_FLAGS } from '../config/flags.ts';
import type { BenchFlag } from '../config/flag-kinds.ts';
import {
  EXTERNAL,
  type TargetSpec,
  type Scenario,
  type Overrides,
  MONGO_ENGINES,
  type MongoEngineChoice,
} from '../shapes/scenario.ts';
import { usage } from '../config/flag-values.ts';
import { flagsHelp, parseArgsOptions, wrapText } from '../config/flag-help.ts';

export interface BenchArgs {
  help: boolean;
  version: boolean;
  /** --quiet: no live progress line. */
  quiet: boolean;
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
  /** --junit FILE: also write the run as JUnit XML there. */
  junit: string | null;
  /** Scale the matrix to this stack's measured limit, at the original's ratios. */
  aroundLimit: boolean;
  /** Where the SMTP sink listens (--smtp-host, --smtp-port); null: 127.0.0.1 and a free port. */
  sink: { host: string | null; port: number | null };
  /** --export ENGINE: write that engine's script for the scenario instead of running it. */
  exportEngine: ExportEngine | null;
  /** Scenario fields the flags override (only those given), already parsed. */
  overrides: Overrides;
}

/** --help, with the scenarios found in scenarios/ and their descriptions. */
export function benchHelp(
  scenarios: Array<{ name: string; description: string }>,
  defaults: Scenario | null = null,
): string {
  const width = Math.max(...scenarios.map((s) => s.name.length), 8);
  const list = scenarios
    .map((s) => {
      const [first = '', ...rest] = wrapText(s.description, 96 - width);
      return [
        `  ${s.name.padEnd(width)}  ${first}`,
        ...rest.map((l) => `${' '.repeat(width + 4)}${l}`),
      ].join('\n');
    })
    .join('\n');
  return `Usage: pnpm bench [options]

Runs every variant of the sign-up API through the scenario's request matrix and writes
results/<run-id>/ (run.json, one JSON per cell, summary.json, summary.md, report.html).

Options (flags override the scenario; each default is the default scenario's, and other
scenarios set their own):

${flagsHelp(BENCH_FLAGS, 100, defaults)}

Scenarios:
${list}

Exit codes: 0 done, 1 unexpected failure or a result file that could not be written, 2 bad
usage or scenario, 3 finished but a result is invalid, 99 a threshold failed (wins over 3),
130 interrupted (partial results are written and marked incomplete).
`;
}

type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

function mongoUri(text: string | undefined, flag = '--mongo-uri'): string | null {
  if (text === undefined) return null;
  if (!/^mongodb(\+srv)?:\/\/[^/\s]+/.test(text))
    throw usage(
      `${flag} must be a MongoDB connection string such as mongodb://127.0.0.1:27017/app, got "${text}"`,
    );
  return text;
}

function targetUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`--target must be a base URL such as http://127.0.0.1:3000, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw usage(`--target must be an http:// or https:// URL, got "${text}"`);
  if (url.search || url.hash)
    throw usage(
      `--target is a base URL (the sign-up is POST <URL>/api/users): drop the query or fragment in "${text}"`,
    );
  return url.href.replace(/\/$/, '');
}

/** --target and its companions; every one of them without --target is a mistake worth saying. */
function readTarget(values: Values): TargetSpec | undefined {
  const url = values.target as string | undefined;
  const label = values.label as string | undefined;
  const db = values['target-mongo-uri'] as string | undefined;
  if (url === undefined) {
    if (label !== undefined || db !== undefined)
      throw usage(
        `${label !== undefined ? '--label' : '--target-mongo-uri'} goes with --target URL`,
      );
    return undefined;
  }
  if (label !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(label))
    throw usage(`--label must be lowercase letters, digits, '.', '_' or '-', got "${label}"`);
  const targetDb = mongoUri(db, '--target-mongo-uri');
  if (targetDb !== null && !/^mongodb(\+srv)?:\/\/[^/]+\/[^/?]+/.test(targetDb))
    throw usage(
      `--target-mongo-uri must name the database the target uses (mongodb://host:port/DATABASE), got "${targetDb}"`,
    );
  return { url: targetUrl(url), label: label ?? EXTERNAL, mongoUri: targetDb };
}

function sinkPort(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw usage(`--smtp-port must be a port number 1-65535, got "${text}"`);
  return n;
}

function exportEngine(text: string | undefined): ExportEngine | null {
  if (text === undefined) return null;
  if (!(EXPORT_ENGINES as readonly string[]).includes(text))
    throw usage(`--export must be one of ${EXPORT_ENGINES.join(', ')}, got "${text}"`);
  return text as ExportEngine;
}

/** Each override flag given, parsed by its table entry; then the rules across flags. */
function readOverrides(values: Values, flags: readonly BenchFlag[]): Overrides {
  const o: Overrides = {};
  for (const def of flags) {
    const given = values[def.name];
    if (given === undefined || given === false || !def.read) continue;
    for (const text of Array.isArray(given) ? given : [given]) def.read(String(text), o);
  }
  const sweeps = [
    o.hashCosts,
    o.smtpConnections,
    o.agendaProcessEveryMs,
    o.queueConcurrency,
  ].filter((v) => (v?.length ?? 0) > 1);
  if (sweeps.length > 1)
    throw usage(
      'sweep one factor at a time: one of --hash-cost, --smtp-connections, --agenda-process-every, --queue-concurrency with several values',
    );
  if (o.stages && (o.requests || o.durationSec !== undefined))
    throw usage('--stages replaces --requests and --duration; give one or the other');
  const target = readTarget(values);
  if (target) {
    o.target = target;
    const builtIn = [
      o.variants && '--variants',
      o.aaControl && '--aa-control',
      (o.hashCost !== undefined || o.hashCosts) && '--hash-cost',
      o.smtpConnections && '--smtp-connections',
      o.agendaProcessEveryMs && '--agenda-process-every',
      o.queueConcurrency && '--queue-concurrency',
    ].filter(Boolean);
    if (builtIn.length > 0)
      throw usage(
        `${builtIn.join(', ')} set${builtIn.length === 1 ? 's' : ''} the built-in API, which --target replaces; the target has its own settings`,
      );
  }
  return o;
}

export function parseBenchArgs(
  argv: string[],
  flags: readonly BenchFlag[] = BENCH_FLAGS,
): BenchArgs {
  const args = [...argv];
  while (args[0] === '--') args.shift();
  let values: Values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: parseArgsOptions(flags),
    }));
  } catch (err) {
    throw usage(`${(err as Error).message}. See --help for the flags.`);
  }
  const mongo = (values.mongo as string | undefined) ?? 'auto';
  if (!(MONGO_ENGINES as readonly string[]).includes(mongo))
    throw usage(`--mongo must be one of ${MONGO_ENGINES.join(', ')}, got "${mongo}"`);
  const overrides = readOverrides(values, flags);
  if (overrides.target && values['around-limit'] === true)
    throw usage(
      "--around-limit probes the built-in variants' capacity; it does not run against --target",
    );
  const smtpHost = (values['smtp-host'] as string | undefined) ?? null;
  if (smtpHost !== null && !/^[A-Za-z0-9.:_-]+$/.test(smtpHost))
    throw usage(
      `--smtp-host must be an interface address or host name such as 0.0.0.0, got "${smtpHost}"`,
    );
  return {
    help: values.help === true,
    version: values.version === true,
    quiet: values.quiet === true,
    junit: typeof values.junit === 'string' ? values.junit : null,
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

export function applyOverrides(scenario: Scenario, o: Overrides): Scenario {
  const out: Scenario = {
    ...scenario,
    smtp: { ...scenario.smtp },
    capacity: { ...scenario.capacity },
    transport: { ...scenario.transport },
    breakingPoint: { ...scenario.breakingPoint },
  };
  if (o.variants) out.variants = o.variants;
  if (o.requests || o.durationSec !== undefined) out.stages = null;
  if (o.stages) out.stages = o.stages;
  if (o.requests) out.requests = o.requests;
  // Other request counts than the scenario's: every swept value runs them all.
  if (o.requests && out.sweep?.requestsAt)
    out.sweep = { factor: out.sweep.factor, values: out.sweep.values };
  if (o.engine) out.engine = o.engine;
  if (o.pinCores !== undefined) out.pinCores = o.pinCores;
  out.reference = {
    ...out.reference,
    ...(o.flaskWorkers !== undefined ? { workers: o.flaskWorkers } : {}),
    ...(o.flaskWorkerClass ? { workerClass: o.flaskWorkerClass } : {}),
    ...(o.passwordHash ? { passwordHash: o.passwordHash } : {}),
  };
  if (o.hashCosts) out.sweep = { factor: 'hashCost', values: o.hashCosts };
  if (o.smtpConnections?.length === 1)
    out.transport.maxConnections = o.smtpConnections[0] as number;
  else if (o.smtpConnections) out.sweep = { factor: 'smtpConnections', values: o.smtpConnections };
  if (o.agendaProcessEveryMs?.length === 1)
    out.agenda = { ...out.agenda, processEveryMs: o.agendaProcessEveryMs[0] as number };
  else if (o.agendaProcessEveryMs)
    out.sweep = { factor: 'agendaProcessEveryMs', values: o.agendaProcessEveryMs };
  if (o.queueConcurrency?.length === 1) {
    const concurrency = o.queueConcurrency[0] as number;
    out.agenda = { ...out.agenda, concurrency };
    out.bullmq = { ...out.bullmq, concurrency };
  } else if (o.queueConcurrency)
    out.sweep = { factor: 'queueConcurrency', values: o.queueConcurrency };
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
