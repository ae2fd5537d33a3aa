/**
 * The shapes of a run's own files (documented by schema/results.schema.json): run.json (what
 * ran, where, with what) and summary.json (the figures over the cells, the breaking points with
 * the model beside them, and the sentences made from them). Types only.
 */
import type { FactorValue, Overrides, Scenario, Subject } from './scenario.ts';

export interface RunInfo {
  schemaVersion: number;
  kind: 'run';
  runId: string;
  scenarioName: string;
  scenario: Scenario;
  argv: string[];
  /**
   * The flags that changed what the scenario file measures, as typed, and their parsed values
   * (absent in runs recorded before).
   */
  overrides?: { flags: string[]; values: Overrides };
  versions: Record<string, string>;
  machine: MachineInfo;
  /** --pin-cores: the cores the API and the harness ran on (absent or null: not pinned). */
  pinning?: Pinning | null;
  database: { engine: string; version: string };
  /**
   * The Redis that served the bullmq variant, with its persistence settings (absent when no variant
   * used one).
   */
  redis?: {
    engine: string;
    version: string;
    persistence: {
      appendonly: string;
      appendfsync: string;
      save: string;
      maxmemoryPolicy: string;
    } | null;
  };
  /**
   * The sink's latency model, and where it listened (port absent in runs recorded before
   * --smtp-port).
   */
  smtpSink: { latency: string; greetingDelayMs?: number; host: string; port?: number | null };
  /** The reference targets' parts and their versions, when a reference target ran. */
  referenceStack?: Record<string, string>;
  /** The tag in every sign-up's username and address (absent in runs recorded before it). */
  signupTag?: string;
  git: { commit: string | null; dirty: boolean | null };
  /**
   * The runner's process, to tell a run in progress (alive) from one that was killed (absent in
   * runs recorded before it).
   */
  runner?: { pid: number; hostname: string };
  startedAt: string;
  endedAt: string | null;
  /** Why the run stopped before its end, when a result could not be written. */
  failure?: string;
  complete: boolean;
  interrupted: boolean;
  cells: string[];
  /** Cells of the plan that were not measured (an interrupted run). */
  notRun?: string[];
  capacity: string[];
  /** --around-limit: the limit the matrix was scaled to, and how. */
  aroundLimit?: {
    limitPerSec: number;
    limitedBy: Subject;
    originalLimitPerSec: number;
    ratios: number[];
    requests: number[];
  };
  /**
   * Breaking-point steps, in the order they ran (absent in runs recorded before the search
   * existed).
   */
  steps?: string[];
}

export interface SummaryRow {
  variant: Subject;
  label: string;
  requests: number;
  repeats: number;
  /** Responses per second over the cell's window, median over the repeats. */
  throughputPerSec: number | null;
  /** Median over the repeats of each cell's figure (the figure itself for one repeat). */
  avgFromSendMs: number | null;
  avgFromIntendedMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /**
   * Requests sent by the cells that ran, and how many of them got the answer they were sent for.
   */
  sent: number;
  expectedResponses: number;
  errors: number;
  /** Requests that hit the client's timeout: when > 0 the latency figures are lower bounds. */
  timeouts: number;
  emailsExpected: number;
  emailsDelivered: number;
  emailsLost: number;
  emailsFailed: number;
  emailsFailedButDeliveredLater: number;
  emailsDuplicated: number;
  deliveryLagP99Ms: number | null;
  backlogMax: number | null;
  drainSec: number | null;
  valid: boolean;
  failed: number;
  /** Spread of the average from send across repeats (min–max), when repeats > 1. */
  avgFromSendRangeMs: [number, number] | null;
  reference: ReferenceValue | null;
}

export interface ReliabilityRow {
  variant: Subject;
  label: string;
  requests: number;
  expected: number;
  delivered: number;
  lost: number;
  /** Given up by the server at shutdown, by its own report. */
  abandoned: number;
  /** Still stored unsent by the server at shutdown, by its own report. */
  held: number;
  failed: number;
  failedButDeliveredLater: number;
  duplicated: number;
  /** E-mails of sign-ups whose reply failed or timed out (no 201 owed them). */
  deliveredNotOwed: number;
  retried: number;
  /** Users stored without a 2xx reply (a crash, or replies that timed out). */
  strayUsers: number;
  drainSec: number | null;
  /**
   * Crash: seconds the API was unreachable; SMTP down: seconds from recovery to the last e-mail.
   */
  crashDownSec: number | null;
  smtpRecoverySec: number | null;
  /** Bad input: "answered as expected / sent". */
  badInputAnswered: string | null;
}

export interface ReferenceValue {
  label: string;
  avgMs: number;
}

/** The summary's figures, before its sentences are made from them. */
export type SummaryFigures = Omit<Summary, 'verdict' | 'configuration'>;

export interface Summary {
  schemaVersion: number;
  kind: 'summary';
  runId: string;
  scenarioName: string;
  complete: boolean;
  database: { engine: string; version: string };
  rows: SummaryRow[];
  /** Per variant; with repeated probes the median of those that ran, with their range and count. */
  capacity: Array<{
    variant: Subject;
    requestsPerSec: number;
    p99Ms: number | null;
    errors: number;
    status: string;
    repeats?: number;
    range?: [number, number] | null;
  }>;
  invalidCells: Array<{ file: string; reasons: string[] }>;
  /**
   * Valid cells with system findings (errors, mail lost or failed, duplicates): results, not flaws.
   */
  findings: Array<{ file: string; reasons: string[] }>;
  reliability: ReliabilityRow[];
  /**
   * Per request count, the variants ordered by avg from send, "~" where repeats cannot tell them
   * apart.
   */
  rankings: Ranking[];
  /** Each threshold, with the cells that failed it. */
  thresholds: Array<{
    expr: string;
    cells: number;
    /** Of the cells that met it, the one nearest to failing it (absent before it was kept). */
    worst?: { file: string; actual: number } | null;
    failed: Array<{ file: string; actual: number | null; note: string | null }>;
  }>;
  referenceNote: string;
  /** One entry per label searched by the breaking-point scenario. */
  breakingPoints?: BreakingPoint[];
  /**
   * The verdict's sentences, the answers first; every renderer prints these (written since schema
   * 2's summaries began to carry them).
   */
  verdict: string[];
  /** "What ran": the configuration and what the flags overrode. */
  configuration: string[];
}

export interface Ranking {
  requests: number;
  metric: 'avgFromSendMs';
  /** Repeats per variant (the smallest n among them). */
  n: number;
  /**
   * e.g. "no-email < background ~ outbox < inline"; null when n = 1 (no spread to compare against).
   */
  order: string | null;
}

/** How often a breaking-point step the generator could not carry is measured again. */
export const MAX_RETRIES = 2;

/**
 * A probe's window (s). Where the model predicts nothing before a step (no SMTP latency to give
 * c/L), the first step, at the ladder's start rate, serves to measure the CPU per sign-up that
 * predicts the HTTP limit: far below any limit, a short window measures it as well as a full one.
 */
export const PROBE_SEC = 6;

/**
 * How far below and above the model's prediction the guided rungs go, as fractions of it: around
 * c/L for e-mail, around cores / CPU per request for the replies (why these: search/ladder.ts).
 */
export const GUIDE_MAIL = { start: 0.97, end: 1.06 } as const;
export const GUIDE_HTTP = { start: 0.9, end: 0.95 } as const;

export interface BreakingPoint {
  variant: Subject;
  label: string;
  factor: FactorValue | null;
  sloP99Ms: number;
  mailShare: number;
  /**
   * Highest offered rate whose replies met the SLO; null when the search ended without a failing
   * step.
   */
  httpMaxRatePerSec: number | null;
  httpBracket: Bracket;
  /**
   * Highest offered rate whose e-mails kept up; null when none failed (or the variant sends none).
   */
  mailMaxRatePerSec: number | null;
  mailBracket: Bracket;
  /**
   * What ended the HTTP search: the SLO broke, the generator fell behind, the ladder's top, or
   * steps failed.
   */
  limitedBy: 'slo' | 'generator' | 'max-rate' | 'failed';
  mailLimitedBy: 'share' | 'not-reached' | 'no-mail';
  generatorCeilingPerSec: number | null;
  /** Attempts measured again because the generator could not carry them (absent before retries). */
  retries?: number;
  /**
   * Whether the search narrowed each bracket to the scenario's resolution; where it did not, the
   * limit is only known to lie in its bracket ("not bracketed"). Absent in entries made before.
   */
  httpNarrowed?: boolean;
  mailNarrowed?: boolean;
  /** With repeated searches: the range of the limits found (each limit above is their median). */
  httpRange?: [number, number] | null;
  mailRange?: [number, number] | null;
  /** With repeated searches: each search's own entry, without its steps and checks. */
  searches?: Array<Omit<BreakingPoint, 'steps' | 'checks' | 'searches'>>;
  predicted: Prediction;
  checks: ModelCheck[];
  steps: Array<{
    file: string;
    ratePerSec: number;
    phase: 'ladder' | 'bisect';
    /** 1, or the retry's number + 1 (absent before retries). */
    attempt?: number;
    status: 'ok' | 'failed';
    p99Ms: number | null;
    meanMs: number | null;
    errors: number;
    httpOk: boolean;
    mailOk: boolean | null;
    mailShare: number | null;
    deliveredRatePerSec: number | null;
    backlogGrowthPerSec: number | null;
    generatorLimited: boolean;
  }>;
}

/** CPU pinning: which cores the API under test ran on, and which the rest of the harness. */
export interface Pinning {
  api: number[];
  harness: number[];
}

export interface Bracket {
  /** The highest rate that passed below `hi` (null: none did). */
  lo: number | null;
  /** The lowest rate that failed (null: none did). */
  hi: number | null;
}

export interface Prediction {
  /** The SMTP connection budget; null when unknown (an external target). */
  connections: number | null;
  latencyMs: number;
  cores: number;
  /** c / L; null when L = 0 (no SMTP bound), c is unknown or the variant sends no e-mail. */
  mailRatePerSec: number | null;
  /** CPU per request at the lowest step that met the SLO. */
  cpuMsPerRequest: number | null;
  /** cores × 1000 / CPU per request. */
  cpuRatePerSec: number | null;
  /**
   * inline: the lower of the CPU bound and c/L stretched by the window (inlineHttpLimit); the
   * others: the CPU bound.
   */
  httpRatePerSec: number | null;
}

export interface ModelCheck {
  what: string;
  /** The step's offered rate, or null for a whole-search figure. */
  ratePerSec: number | null;
  predicted: number;
  measured: number;
  differencePct: number;
  flagged: boolean;
  explanation: string | null;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  release: string;
  arch: string;
  loadAverage1m: number;
  hostname: string;
}
