/** `pnpm bench` flags: a pure function from argv to a plan, tested without starting a process. */
import { parseArgs } from 'node:util';
import { parseDurationMs, parseLatency } from '@mailbench/smtp-sink';
import { UsageError } from './errors.ts';
import { VARIANT_NAMES, type Scenario, type VariantName } from './scenario.ts';

export const MONGO_MODES = ['auto', 'mongod', 'standin'] as const;
export type MongoMode = (typeof MONGO_MODES)[number];

export interface BenchArgs {
  help: boolean;
  list: boolean;
  scenario: string;
  /** null: the repository's results/ folder. */
  out: string | null;
  mongo: MongoMode;
  mongoUri: string | null;
  quick: boolean;
  /** Scenario fields the flags override (only those given). */
  overrides: {
    variants?: VariantName[];
    requests?: number[];
    durationSec?: number;
    smtpLatency?: string;
    repeats?: number;
    capacity?: boolean;
    hashCost?: number;
    connection?: 'per-request' | 'keep-alive';
  };
}

export const BENCH_HELP = `Usage: pnpm bench [options]

Runs every variant of the sign-up API through the scenario's request matrix and writes
results/<run-id>/ (run.json, one JSON per cell, summary.json, summary.md, report.html).

Options (flags override the scenario):
  --scenario NAME        scenario in scenarios/NAME.json              (default: default)
                         default | delay-500ms | slow-provider | saturation | smoke
  --variants LIST        comma-separated subset of: ${VARIANT_NAMES.join(', ')}
  --requests LIST        request counts, e.g. 750,800                 (scenario's)
  --duration DUR         measured window per cell, e.g. 60s           (scenario's)
  --smtp-latency SPEC    sink latency: 500ms, uniform:100ms-300ms, normal:200ms,50ms, lognormal:200ms,2s
  --repeats N            repeats of each cell, interleaved A B C A B C (scenario's)
  --hash-cost N          scrypt log2(N) per sign-up, 0 = off          (scenario's; default scenarios 14)
  --connection MODE      per-request | keep-alive                     (scenario's)
  --capacity             also run the closed-loop capacity probe per variant
  --quick                same arrival rates, shorter windows: 10 s windows with request counts
                         scaled to match (750 over 60 s becomes 125 over 10 s), warm-up <= 2 s,
                         drain bound <= 60 s, capacity probe <= 5 s
  --out DIR              results folder                               (default: the repository's results/)
  --mongo MODE           auto | mongod | standin                      (default: auto)
  --mongo-uri URI        use this MongoDB (also MONGODB_URI)
  --list                 list the scenarios and exit
  -h, --help             show this help

Exit codes: 0 done, 1 unexpected failure, 2 bad usage or scenario, 3 finished but a result
is invalid, 130 interrupted (partial results are written and marked incomplete).
`;

function list(flag: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError('ERR_USAGE', `${flag} needs a comma-separated list, got "${text}"`);
  return items;
}

function positiveInt(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError('ERR_USAGE', `${flag} must be a whole number >= ${min}, got "${text}"`);
  return n;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const args = [...argv];
  while (args[0] === '--') args.shift();
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        scenario: { type: 'string' },
        variants: { type: 'string' },
        requests: { type: 'string' },
        duration: { type: 'string' },
        'smtp-latency': { type: 'string' },
        repeats: { type: 'string' },
        'hash-cost': { type: 'string' },
        connection: { type: 'string' },
        capacity: { type: 'boolean' },
        quick: { type: 'boolean' },
        out: { type: 'string' },
        mongo: { type: 'string' },
        'mongo-uri': { type: 'string' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError('ERR_USAGE', `${(err as Error).message}. See --help for the flags.`);
  }
  const str = (k: string) => values[k] as string | undefined;
  const overrides: BenchArgs['overrides'] = {};
  const variants = str('variants');
  if (variants !== undefined) {
    const names = list('--variants', variants);
    for (const v of names) {
      if (!(VARIANT_NAMES as readonly string[]).includes(v)) {
        throw new UsageError('ERR_USAGE', `--variants: unknown variant "${v}"; valid: ${VARIANT_NAMES.join(', ')}`);
      }
    }
    overrides.variants = [...new Set(names)] as VariantName[];
  }
  const requests = str('requests');
  if (requests !== undefined) overrides.requests = [...new Set(list('--requests', requests).map((r) => positiveInt('--requests', r)))];
  const duration = str('duration');
  if (duration !== undefined) {
    const ms = parseDurationMs(duration);
    if (!Number.isFinite(ms) || ms <= 0) throw new UsageError('ERR_USAGE', `--duration must be a positive duration such as 60s or 1500ms, got "${duration}"`);
    overrides.durationSec = ms / 1000;
  }
  const latency = str('smtp-latency');
  if (latency !== undefined) {
    try {
      parseLatency(latency, '--smtp-latency');
    } catch (err) {
      throw new UsageError('ERR_USAGE', (err as Error).message);
    }
    overrides.smtpLatency = latency;
  }
  const repeats = str('repeats');
  if (repeats !== undefined) overrides.repeats = positiveInt('--repeats', repeats);
  const hashCost = str('hash-cost');
  if (hashCost !== undefined) {
    const n = positiveInt('--hash-cost', hashCost, 0);
    if (n === 1 || n > 20) throw new UsageError('ERR_USAGE', `--hash-cost must be 0 (off) or 2-20, got "${hashCost}"`);
    overrides.hashCost = n;
  }
  const connection = str('connection');
  if (connection !== undefined) {
    if (connection !== 'per-request' && connection !== 'keep-alive') {
      throw new UsageError('ERR_USAGE', `--connection must be per-request or keep-alive, got "${connection}"`);
    }
    overrides.connection = connection;
  }
  if (values.capacity === true) overrides.capacity = true;
  const mongo = str('mongo') ?? 'auto';
  if (!(MONGO_MODES as readonly string[]).includes(mongo)) {
    throw new UsageError('ERR_USAGE', `--mongo must be one of ${MONGO_MODES.join(', ')}, got "${mongo}"`);
  }
  return {
    help: values.help === true,
    list: values.list === true,
    scenario: str('scenario') ?? 'default',
    out: str('out') ?? null,
    mongo: mongo as MongoMode,
    mongoUri: str('mongo-uri') ?? null,
    quick: values.quick === true,
    overrides,
  };
}

export function applyOverrides(scenario: Scenario, o: BenchArgs['overrides']): Scenario {
  const out: Scenario = { ...scenario, smtp: { ...scenario.smtp }, capacity: { ...scenario.capacity } };
  if (o.variants) out.variants = o.variants;
  if (o.requests) out.requests = o.requests;
  if (o.durationSec !== undefined) out.durationSec = o.durationSec;
  if (o.smtpLatency !== undefined) out.smtp.latency = o.smtpLatency;
  if (o.repeats !== undefined) out.repeats = o.repeats;
  if (o.hashCost !== undefined) out.hashCost = o.hashCost;
  if (o.connection !== undefined) out.connection = o.connection;
  if (o.capacity) out.capacity.enabled = true;
  return out;
}
