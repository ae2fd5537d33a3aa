/**
 * What to run, as every phase sees it: the effective scenario (documented by
 * schema/scenario.schema.json), who a cell measures, the swept factors, the threshold language,
 * and the flags' parsed overrides. Types and the constant lists they are made of; no behaviour.
 */
import type { RateStage } from '@mailbench/loadgen';
import type { LatencySpec } from '@mailbench/smtp-sink';
import type { TransportMode, Variant } from '@mailbench/target-api/contract';

/**
 * The effective scenario: every value typed and filled. Scenario-level defaults live in the
 * schema (ajv fills them); the API's own settings default to the API's DEFAULT_OPTIONS.
 */
export interface Scenario {
  name: string;
  description: string;
  /** The built-in API's variants; ['external'] when the cells load a --target. */
  variants: Subject[];
  /**
   * --target: the API the cells load instead of forking the built-in one (flags only, never a
   * file).
   */
  target: TargetSpec | null;
  requests: number[];
  durationSec: number;
  /**
   * A load profile instead of even spacing; when set, requests is [its count] and durationSec its
   * length.
   */
  stages: RateStage[] | null;
  repeats: number;
  warmup: { requests: number; durationSec: number };
  connection: 'per-request' | 'keep-alive';
  timeoutSec: number;
  hashCost: number;
  smtp: {
    latency: LatencySpec;
    greetingDelayMs: number;
    maxConnections: number;
    maxMessagesPerSec: number;
    tempFailRate: number;
    permFailRate: number;
    seed: number;
  };
  transport: {
    mode: TransportMode;
    maxConnections: number;
    maxMessages: number;
    sendTimeoutMs: number;
  };
  workerPool: { threads: number; concurrentTasksPerWorker: number };
  outbox: { leaseMs: number; pollMs: number };
  /** Agenda's knobs; concurrency null follows the SMTP connection budget. */
  agenda: { processEveryMs: number; lockLifetimeMs: number; concurrency: number | null };
  /** BullMQ's knobs; concurrency null follows the SMTP connection budget. */
  bullmq: { concurrency: number | null; attempts: number; backoffMs: number; lockMs: number };
  drainTimeoutSec: number;
  /** Dispatch error p99 above which a cell is marked generatorBehind. */
  behindThresholdMs: number;
  /** Dispatch error of a single request above which the generator counts as stalled. */
  stallThresholdMs: number;
  capacity: { enabled: boolean; connections: number; durationSec: number };
  /**
   * One factor swept across every variant, or null; requestsAt narrows the counts run at a value.
   */
  sweep: { factor: FactorName; values: number[]; requestsAt?: Record<string, number[]> } | null;
  /** The reference targets' settings (reference-targets.ts). */
  reference: ReferenceSettings;
  /** What sends a cell's measured schedule: mailbench's generator, or JMeter (jmeter-cell.ts). */
  engine: CellEngine;
  /** The API on the last core, the harness on the others (services/pinning.ts). */
  pinCores: boolean;
  breakingPoint: BreakingPointSettings;
  /** The user's pass/fail criteria, parsed. */
  thresholds: Threshold[];
  /**
   * A/A control: this variant also runs as a twin labelled "<variant>-aa", to measure the noise
   * floor.
   */
  aaControl: Variant | null;
  faults: Faults;
  /** Set by --quick: windows shortened, rates kept (see applyQuick). */
  quick: boolean;
}

export interface BreakingPointSettings {
  enabled: boolean;
  stepSec: number;
  startRate: number;
  growth: number;
  maxRate: number;
  bisections: number;
  resolution: number;
  sloP99Ms: number;
  mailShare: number;
}

export interface Faults {
  crash?: { atSec: number };
  smtpDown?: { fromSec: number; forSec: number };
  badInput?: { share: number };
}

export const EXTERNAL = 'external';

export type Subject = Variant | ReferenceName | typeof EXTERNAL;

/** What a scenario's variants may name: the built-in variants and the reference targets. */
export type Runnable = Variant | ReferenceName;

/** Where the cells of a run go when the harness does not start the API. */
export interface TargetSpec {
  /** Base URL of the API; the sign-up is POST {url}/api/users. */
  url: string;
  /** What its cells are labelled and filed as. */
  label: string;
  /** The database the target writes its users to, for the stored-users check; null: not checked. */
  mongoUri: string | null;
}

/**
 * The reference targets (the original experiment's stacks; config/references.ts says how each
 * runs).
 */
export const REFERENCE_NAMES = [
  'flask-no-email',
  'flask-blocking',
  'flask-thread',
  'express-inline',
] as const;
export type ReferenceName = (typeof REFERENCE_NAMES)[number];

export interface ReferenceSettings {
  /** gunicorn worker processes of the Flask target (the original: 20). */
  workers: number;
  /**
   * gunicorn's worker class: gevent (the original; a greenlet per request, blocking I/O yields) or
   * sync (one request at a time per worker).
   */
  workerClass: 'gevent' | 'sync';
  /** How the Flask target stores passwords: as given, or werkzeug's default hash. */
  passwordHash: 'none' | 'werkzeug';
  /** A sleep in the e-mail function before it connects (the original's delay), in ms. */
  emailDelayMs: number;
}

export const FACTORS = [
  'smtpConnections',
  'hashCost',
  'agendaProcessEveryMs',
  'queueConcurrency',
  'smtpLatencyMs',
] as const;

export type FactorName = (typeof FACTORS)[number];

export interface FactorValue {
  factor: FactorName;
  value: number;
}

export const LATENCY = {
  p50: 'p50',
  p90: 'p90',
  p95: 'p95',
  p99: 'p99',
  p999: 'p999',
  max: 'max',
  avg: 'mean',
} as const;

export const COUNTS = ['errors', 'timeouts', 'lost', 'failed', 'duplicated'] as const;

export const OPS = ['<=', '>=', '==', '<', '>'] as const;

export type Op = (typeof OPS)[number];

export type Metric = keyof typeof LATENCY | (typeof COUNTS)[number] | 'lag_p99';

export const THRESHOLD_METRICS: readonly Metric[] = [
  ...(Object.keys(LATENCY) as Array<keyof typeof LATENCY>),
  'lag_p99',
  ...COUNTS,
];

export interface Threshold {
  expr: string;
  label: string | null;
  metric: Metric;
  op: Op;
  /** In ms for latencies, a count, or a share 0..1 when `percent`. */
  value: number;
  percent: boolean;
}

export const CELL_ENGINES = ['mailbench', 'jmeter'] as const;

export type CellEngine = (typeof CELL_ENGINES)[number];

export const MONGO_ENGINES = ['auto', 'mongod', 'standin'] as const;

export type MongoEngineChoice = (typeof MONGO_ENGINES)[number];

/** Scenario fields the flags override (only those given), already parsed. */
export interface Overrides {
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
  pinCores?: boolean;
  flaskWorkers?: number;
  flaskWorkerClass?: ReferenceSettings['workerClass'];
  passwordHash?: ReferenceSettings['passwordHash'];
  /** Added to the scenario's own thresholds. */
  thresholds?: Threshold[];
  /** --target URL [--label NAME] [--target-mongo-uri URI] (read together, see args.ts). */
  target?: TargetSpec;
}
