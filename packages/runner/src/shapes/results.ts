/**
 * The shapes of the result files (documented by schema/results.schema.json): a cell, a
 * breaking-point step, a capacity probe, the run's record and its summary. Types only, and the
 * schema version they are written with.
 */
import type { LatencySummary } from '@mailbench/loadgen';
import type { FactorValue, Subject } from './scenario.ts';

/**
 * 2: latency of the expected answers apart from all (latencyAllMs), e-mail abandoned and held at
 * shutdown.
 */
export const SCHEMA_VERSION = 2;

/**
 * Every request of a window, one array per field, in the order they were scheduled (times in ms
 * from t0).
 */
export interface StoredSamples {
  intendedMs: number[];
  sentMs: number[];
  /** Time to first byte, per request (null: no answer); absent in cells stored before it was kept. */
  headersMs?: Array<number | null>;
  endMs: number[];
  status: number[];
  error: Array<string | null>;
  bytes?: number[];
}

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

/** What a trial's open-loop load measured, in a cell's file and a step's alike. */
export interface LoadFigures {
  /** Latency of the expected answers (2xx; a bad request's own 4xx): the headline figures. */
  latencyMs: { fromIntended: LatencySummary; fromSend: LatencySummary } | null;
  /** How late each request left against its schedule. */
  dispatchErrorMs: LatencySummary | null;
  /** The generator fell behind its schedule (dispatch p99 or a stall over the scenario's limits). */
  generatorBehind: boolean;
  /** Expected answers per second over the schedule's span. */
  throughputPerSec: number;
  statusCounts: Record<string, number>;
  errorCounts: Record<string, number>;
  /** Requests that did not get a 2xx: HTTP errors plus transport errors and timeouts. */
  errors: number;
  /** Requests that ended at the client's timeout: their latency is censored (a lower bound). */
  timeouts: number;
  /** Every request, column by column (times in ms since t0, 0.01 ms resolution). */
  samples: StoredSamples | null;
}

export interface CellResult extends LoadFigures {
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
  /** Latency of every request, failures and transport errors included. */
  latencyAllMs: { fromIntended: LatencySummary; fromSend: LatencySummary } | null;
  /** Requests that got the answer they were sent for. */
  expectedResponses: number;
  /** Answers of any status per second over the same span. */
  responsesPerSec: number;
  emails: {
    /** E-mails owed: one per registration that got a 201. The four outcomes below add up to it. */
    expected: number;
    /** Owed, arrived at the sink, and not reported failed by the server. */
    delivered: number;
    /**
     * Owed, never arrived, not reported failed, and not accounted for by the server at shutdown:
     * silently lost.
     */
    lost: number;
    /**
     * Owed, never arrived: the server said at shutdown it gave the e-mail up (held in memory when
     * it had to stop).
     */
    abandoned: number;
    /**
     * Owed, given up by the server at shutdown, and arrived all the same (counted in delivered): its
     * message was already in the SMTP transaction, so the sink accepted it after the server stopped.
     * The server's own abandoned count is `abandoned` plus this.
     */
    abandonedButArrived?: number;
    /**
     * Owed, never arrived: the server said at shutdown the e-mail is still stored, unsent (a
     * durable variant sends it on its next start).
     */
    held: number;
    /**
     * How the server's failure report was had: read after its drain, read before it stopped, or not
     * at all.
     */
    failureReport: 'at-shutdown' | 'before-stop' | 'unreadable' | 'none';
    /**
     * Distinct measured sign-ups at the sink by recipient address, and by X-Registration-Id header:
     * two attributions that must agree.
     */
    arrivedByAddress: number;
    arrivedByRegistrationId: number;
    /** Owed, reported failed by the server (it gave up), and never arrived. */
    failed: number;
    /**
     * Owed, reported failed by the server, and arrived all the same (a send that timed out inside
     * the SMTP transaction).
     */
    failedButDeliveredLater: number;
    /** Extra copies at the sink beyond the first of a registration. */
    duplicated: number;
    /**
     * Measured sign-ups whose e-mail arrived although no 201 owed it (the reply failed or timed
     * out).
     */
    deliveredNotOwed: number;
    /** Retries the server made (the outbox retries temporary failures). */
    retried: number;
    unattributed: number;
    rejectedBySink: number;
    /**
     * Sink acceptance minus the client's receipt of the 201, per e-mail (0 when accepted before the
     * reply, as inline does).
     */
    deliveryLagMs: LatencySummary | null;
    /** Null when the server's backlog is not visible (an external target). */
    backlogMax: number | null;
    /**
     * From the end of the schedule (last response) to the last expected e-mail, or null if never.
     */
    drainSec: number | null;
    drainTimedOut: boolean;
    serverCounters: Record<string, number> | null;
  };
  /**
   * Users stored by the measured sign-ups (null: the database is not known); warm-up users apart.
   */
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
      byKind: Record<
        string,
        {
          sent: number;
          expectedStatus: number;
          answeredAsExpected: number;
          statusCounts: Record<string, number>;
        }
      >;
    } | null;
  } | null;
  server: {
    pid: number | null;
    series: ServerSample[];
    shutdown: { drained: number; abandoned: number } | null;
  };
  valid: boolean;
  /**
   * Every finding, tagged with its kind: "measurement: …" makes the cell invalid, "system: …" does
   * not.
   */
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

export interface StepResult extends LoadFigures {
  schemaVersion: number;
  kind: 'step';
  runId: string;
  variant: Subject;
  label: string;
  factor: FactorValue | null;
  /** 1-based position in this label's search. */
  step: number;
  /**
   * 1; 2 or 3 where the step was measured again because the generator could not carry the
   * attempt before (absent in steps recorded before retries).
   */
  attempt?: number;
  /** Which of the scenario's repeated searches the step belongs to (absent before repeats). */
  repeat?: number;
  phase: 'ladder' | 'bisect';
  /** Offered rate: requests / window. */
  ratePerSec: number;
  requests: number;
  durationSec: number;
  status: 'ok' | 'failed';
  error: string | null;
  /**
   * Behind, and the server showed no failure of its own: the step says nothing about the server.
   */
  generatorLimited: boolean;
  /** Process CPU per request over the window (100 % = one core), from the server's own samples. */
  cpuMsPerRequest: number | null;
  /** Mean of the server's requests-in-flight gauge over the window (for Little's law). */
  meanRequestsInFlight: number | null;
  /** Null for a variant that sends no e-mail. */
  emails: StepEmails | null;
  httpOk: boolean;
  mailOk: boolean | null;
  slo: { p99Ms: number; mailShare: number };
  series: ServerSample[];
  startedAt: string;
  endedAt: string;
}

export interface StepEmails {
  owed: number;
  /** Owed e-mails the sink accepted by the deadline (window end + the sink's typical latency). */
  deliveredByDeadline: number;
  /** Delivered by the deadline / owed; null when nothing was owed. */
  share: number | null;
  deadlineSec: number;
  /** Acceptances per second over the window's second half (the steady state). */
  deliveredRatePerSec: number;
  /** Server backlog (queued + sending) at the deadline; null if the server did not answer. */
  backlogAtDeadline: number | null;
  /** Slope of the server's backlog over the window, e-mails per second (least squares). */
  backlogGrowthPerSec: number | null;
  /** Mean of the server's backlog over the window's second half. */
  meanBacklog: number | null;
  /** Reply → acceptance, for owed e-mails delivered by the deadline. */
  lagMs: LatencySummary | null;
}

export interface ThresholdResult {
  expr: string;
  passed: boolean;
  /**
   * The cell's value in the threshold's unit (ms, a count, or a percentage); null when the cell has
   * none.
   */
  actual: number | null;
  /**
   * Why it failed beyond the comparison: the cell failed, or its latency is censored by timeouts.
   */
  note: string | null;
}
