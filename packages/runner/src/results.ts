/** The shapes of the result files (documented by schema/results.schema.json) and their writing. */
import type { FactorValue } from './factors.ts';
import type { BreakingPoint } from './breaking-point.ts';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LatencySummary } from '@mailbench/loadgen';
import type { MachineInfo } from './environment.ts';
import type { Variant } from '@mailbench/target-api/contract';
import type { Subject } from './subjects.ts';
import type { Scenario } from './scenario.ts';
import type { ThresholdResult } from './thresholds.ts';

export const SCHEMA_VERSION = 1;

export interface ServerSample {
  /** Seconds since the cell's t0 (start of the measured schedule). */
  tSec: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  cpuPercent: number;
  rssMiB: number;
  heapUsedMiB: number;
  requestsInFlight: number;
  emailsQueued: number;
  emailsInFlight: number;
  emailsSent: number;
  emailsFailed: number;
  emailsRetried: number;
  /** E-mails accepted by the sink so far in this cell. */
  sinkAccepted: number;
}

export interface CellResult {
  schemaVersion: number;
  kind: 'cell';
  runId: string;
  variant: Subject;
  /** How the cell is shown: the variant, or its A/A twin "<variant>-aa". */
  label: string;
  requests: number;
  repeat: number;
  /** The swept factor's value this cell ran at; absent in cells recorded before sweeps existed. */
  factor?: FactorValue | null;
  status: 'ok' | 'failed';
  error: string | null;
  serverStderrTail: string | null;
  startedAt: string;
  endedAt: string;
  durationSec: number;
  offeredRatePerSec: number;
  connection: 'per-request' | 'keep-alive';
  t0EpochMs: number | null;
  latencyMs: { fromIntended: LatencySummary; fromSend: LatencySummary } | null;
  dispatchErrorMs: LatencySummary | null;
  generatorBehind: boolean;
  throughputPerSec: number;
  statusCounts: Record<string, number>;
  errorCounts: Record<string, number>;
  /** Requests that did not get a 2xx: HTTP errors plus transport errors and timeouts. */
  errors: number;
  /** Requests that ended at the client's timeout: their latency is censored (a lower bound). */
  timeouts: number;
  emails: {
    /** E-mails owed: one per registration that got a 201. The four outcomes below add up to it. */
    expected: number;
    /** Owed, arrived at the sink, and not reported failed by the server. */
    delivered: number;
    /** Owed, never arrived, and not reported failed by the server: silently lost. */
    lost: number;
    /** Owed, reported failed by the server (it gave up), and never arrived. */
    failed: number;
    /** Owed, reported failed by the server, and arrived all the same (a send that timed out inside the SMTP transaction). */
    failedButDeliveredLater: number;
    /** Extra copies at the sink beyond the first of a registration. */
    duplicated: number;
    /** Measured sign-ups whose e-mail arrived although no 201 owed it (the reply failed or timed out). */
    deliveredNotOwed: number;
    /** Retries the server made (the outbox retries temporary failures). */
    retried: number;
    unattributed: number;
    rejectedBySink: number;
    /** Sink acceptance minus the client's receipt of the 201, per e-mail (0 when accepted before the reply, as inline does). */
    deliveryLagMs: LatencySummary | null;
    /** Null when the server's backlog is not visible (an external target). */
    backlogMax: number | null;
    /** From the end of the schedule (last response) to the last expected e-mail, or null if never. */
    drainSec: number | null;
    drainTimedOut: boolean;
    serverCounters: Record<string, number> | null;
  };
  /** Users stored by the measured sign-ups (null: the database is not known); warm-up users apart. */
  accounting: { usersInDb: number | null; responses2xx: number; warmupUsers: number };
  /** What this cell could not check, and why (absent in cells recorded before external targets). */
  notChecked?: string[];
  /** What the injected faults did (null when the scenario injects none). */
  faults: {
    crash: { killedAtSec: number; downSec: number; killedPid: number; restartedPid: number } | null;
    smtpDown: { fromSec: number; forSec: number; recoverySec: number } | null;
    badInput: {
      share: number;
      sent: number;
      answeredAsExpected: number;
      byKind: Record<string, { sent: number; expectedStatus: number; answeredAsExpected: number; statusCounts: Record<string, number> }>;
    } | null;
  } | null;
  server: { pid: number | null; series: ServerSample[]; shutdown: { drained: number; abandoned: number } | null };
  /** Every request, column by column (times in ms since t0, 0.01 ms resolution). */
  samples: { intendedMs: number[]; sentMs: number[]; endMs: number[]; status: number[]; error: Array<string | null>; bytes?: number[] } | null;
  valid: boolean;
  /** Every finding, tagged with its kind: "measurement: …" makes the cell invalid, "system: …" does not. */
  reasons: string[];
  findings: Finding[];
  /** The scenario's thresholds that name this cell, evaluated. */
  thresholds: ThresholdResult[];
}

/** Something the judge found: the measurement cannot be trusted, or the system misbehaved. */
export interface Finding {
  kind: 'measurement' | 'system';
  code: string;
  message: string;
}

export interface CapacityResult {
  schemaVersion: number;
  kind: 'capacity';
  runId: string;
  variant: Subject;
  status: 'ok' | 'failed';
  error: string | null;
  connections: number;
  durationSec: number;
  requestsPerSec: number;
  total: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number } | null;
  statusCounts: Record<string, number>;
  errors: number;
  startedAt: string;
  endedAt: string;
}

export interface RunInfo {
  schemaVersion: number;
  kind: 'run';
  runId: string;
  scenarioName: string;
  scenario: Scenario;
  argv: string[];
  versions: Record<string, string>;
  machine: MachineInfo;
  database: { engine: string; version: string };
  /** The Redis that served the bullmq variant, with its persistence settings (absent when no variant used one). */
  redis?: { engine: string; version: string; persistence: { appendonly: string; appendfsync: string; save: string; maxmemoryPolicy: string } | null };
  /** The sink's latency model, and where it listened (port absent in runs recorded before --smtp-port). */
  smtpSink: { latency: string; greetingDelayMs?: number; host: string; port?: number | null };
  /** The reference targets' parts and their versions, when a reference target ran. */
  referenceStack?: Record<string, string>;
  /** The tag in every sign-up's username and address (absent in runs recorded before it). */
  signupTag?: string;
  git: { commit: string | null; dirty: boolean | null };
  startedAt: string;
  endedAt: string | null;
  complete: boolean;
  interrupted: boolean;
  cells: string[];
  /** Cells of the plan that were not measured (an interrupted run). */
  notRun?: string[];
  capacity: string[];
  /** --around-limit: the limit the matrix was scaled to, and how. */
  aroundLimit?: { limitPerSec: number; limitedBy: Subject; originalLimitPerSec: number; ratios: number[]; requests: number[] };
  /** Breaking-point steps, in the order they ran (absent in runs recorded before the search existed). */
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
  failed: number;
  failedButDeliveredLater: number;
  duplicated: number;
  /** E-mails of sign-ups whose reply failed or timed out (no 201 owed them). */
  deliveredNotOwed: number;
  retried: number;
  /** Users stored without a 2xx reply (a crash, or replies that timed out). */
  strayUsers: number;
  drainSec: number | null;
  /** Crash: seconds the API was unreachable; SMTP down: seconds from recovery to the last e-mail. */
  crashDownSec: number | null;
  smtpRecoverySec: number | null;
  /** Bad input: "answered as expected / sent". */
  badInputAnswered: string | null;
}

export interface ReferenceValue {
  label: string;
  avgMs: number;
}

export interface Summary {
  schemaVersion: number;
  kind: 'summary';
  runId: string;
  scenarioName: string;
  complete: boolean;
  database: { engine: string; version: string };
  rows: SummaryRow[];
  capacity: Array<{ variant: Subject; requestsPerSec: number; p99Ms: number | null; errors: number; status: string }>;
  invalidCells: Array<{ file: string; reasons: string[] }>;
  /** Valid cells with system findings (errors, mail lost or failed, duplicates): results, not flaws. */
  findings: Array<{ file: string; reasons: string[] }>;
  reliability: ReliabilityRow[];
  /** Per request count, the variants ordered by avg from send, "~" where repeats cannot tell them apart. */
  rankings: Ranking[];
  /** Each threshold, with the cells that failed it. */
  thresholds: Array<{ expr: string; cells: number; failed: Array<{ file: string; actual: number | null; note: string | null }> }>;
  referenceNote: string;
  /** One entry per label searched by the breaking-point scenario. */
  breakingPoints?: BreakingPoint[];
}

export interface Ranking {
  requests: number;
  metric: 'avgFromSendMs';
  /** Repeats per variant (the smallest n among them). */
  n: number;
  /** e.g. "no-email < background ~ outbox < inline"; null when n = 1 (no spread to compare against). */
  order: string | null;
}

/** Writes JSON atomically (temp file, then rename): an interrupted run never leaves half a file. */
export function writeJson(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(tmp, file);
}

export function writeText(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function cellFileName(variant: string, requests: number, repeat: number, repeats: number): string {
  return `${variant}/${requests}${repeats > 1 ? `-r${repeat}` : ''}.json`;
}
