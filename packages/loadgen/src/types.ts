import type { RateStage } from './schedule.ts';

/** What one request looks like; produced by the caller's factory, one per index. */
export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export type ConnectionMode = 'per-request' | 'keep-alive';

/** One scheduled request. Times are ms since t0 (the schedule's start). */
export interface Sample {
  i: number;
  /** When the schedule said to send it: i · T / N, or the stages' due time. */
  intendedMs: number;
  /**
   * When the HTTP client wrote it to its connection (undici's onConnect); a late connection shows
   * here.
   */
  sentMs: number;
  /**
   * When the response's headers arrived (time to first byte, JMeter's "Latency"); null when none
   * did or the engine does not say.
   */
  headersMs?: number | null;
  /** When the response body ended, or the error happened. */
  endMs: number;
  /** HTTP status, or 0 when there was no response. */
  status: number;
  /** Error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, ETIMEDOUT, …) or null. */
  error: string | null;
  bytes: number;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p75: number;
  p90: number;
  /** Absent in summaries stored before it was kept. */
  p95?: number;
  p99: number;
  p999: number;
  max: number;
  min: number;
}

export interface ProgressEvent {
  elapsedMs: number;
  scheduled: number;
  sent: number;
  completed: number;
  inFlight: number;
  errors: number;
  phase: 'warmup' | 'measure';
}

export interface OpenLoopOptions {
  baseUrl: string;
  /** Number of requests in the measured schedule (with durationMs; or give stages instead). */
  count?: number;
  /** Length of the schedule: request i is due at t0 + i · durationMs / count. */
  durationMs?: number;
  /**
   * Stages of arrival rate instead of count and durationMs: each due time in closed form (see
   * schedule.ts).
   */
  stages?: RateStage[];
  request: (i: number) => RequestSpec;
  connection?: ConnectionMode;
  /**
   * A request that has not completed this long after it was due (its intended time, from which its
   * latency counts too) fails with ETIMEDOUT. Default 30 s.
   */
  timeoutMs?: number;
  /** Requests sent open-loop before the measured schedule, not recorded. */
  warmup?: { count: number; durationMs: number; request?: (i: number) => RequestSpec };
  /** Dispatch error p99 above this marks the run `generatorBehind`. Default 10 ms. */
  behindThresholdMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Called with t0 (epoch ms) as the measured schedule starts (after any warm-up). */
  onStart?: (t0EpochMs: number) => void;
  /** How often onProgress is called. Default 500 ms. */
  progressIntervalMs?: number;
  /** Aborting stops the scheduler thread at once and rejects with code ERR_LOADGEN_ABORTED. */
  signal?: AbortSignal;
  /**
   * Which answers the schedule wants (default: a 2xx). Latency and throughput are of these
   * only: a failure answered in 1 ms is not a fast request. See `isExpected2xx`.
   */
  expected?: (sample: Sample) => boolean;
}

export interface OpenLoopResult {
  /** Wall-clock time of t0 (epoch ms, sub-ms precision), to line samples up with other clocks. */
  t0EpochMs: number;
  count: number;
  durationMs: number;
  connection: ConnectionMode;
  /**
   * Where the scheduler ran: mailbench's worker thread, or JMeter (its log read back; see the
   * runner's --engine).
   */
  scheduler: 'worker-thread' | 'jmeter';
  samples: Sample[];
  /**
   * Samples that got the answer they were meant to get (by default a 2xx): the headline figures are
   * theirs.
   */
  expectedResponses: number;
  /**
   * end − intended of the expected answers: what a user of the service waits (free of coordinated
   * omission).
   */
  latencyFromIntended: LatencySummary;
  /** end − sent of the expected answers: what JMeter reports as elapsed. */
  latencyFromSend: LatencySummary;
  /**
   * The same over every sample, failures and transport errors included (k6's http_req_duration
   * without its tag).
   */
  latencyAll: { fromIntended: LatencySummary; fromSend: LatencySummary };
  /** sent − intended: how late the generator was. */
  dispatchError: LatencySummary;
  generatorBehind: boolean;
  behindThresholdMs: number;
  statusCounts: Record<string, number>;
  errorCounts: Record<string, number>;
  /** Expected answers per second of the run's span (first intended → last end). */
  throughputPerSec: number;
  /** Answers of any status per second of the same span. */
  responsesPerSec: number;
  /** The schedule's rate, count / duration. */
  offeredRatePerSec: number;
  /**
   * Connections opened ahead of need (per-request: each request's, shortly before it is due;
   * keep-alive: a few spares for when every pooled connection is busy), and how many were used.
   */
  connectionsAhead: { opened: number; used: number };
  lastEndMs: number;
}
