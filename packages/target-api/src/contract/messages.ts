/**
 * What the API process says to whoever started it: the IPC messages of a forked server, and the
 * JSON of GET /metrics. Readers check the shape at run time (`readServerMessage`,
 * `readMetrics`): a renamed field fails loudly instead of turning into zeros in a result.
 */
import type { Variant } from './variants.ts';

/** How the e-mails in flight ended when the process shut down. */
export interface ShutdownReport {
  /** E-mails that finished (sent or failed) while draining. */
  drained: number;
  /**
   * E-mails still unsent when the drain timeout ran out (lost where the variant keeps them in
   * memory).
   */
  abandoned: number;
  /** Whom the abandoned e-mails were for, where the variant knows (one address per e-mail). */
  abandonedTo?: string[];
  /**
   * Whom the e-mails still stored unsent were for (a durable variant keeps them for its next
   * start).
   */
  heldTo?: string[];
  /** Every e-mail the process gave up on, as /mail/failures would list it after the drain. */
  failures?: MailFailure[];
}

export interface ReadyMessage {
  type: 'ready';
  port: number;
  variant: Variant;
  pid: number;
}

export interface ShutdownMessage extends ShutdownReport {
  type: 'shutdown';
}

export type ServerMessage = ReadyMessage | ShutdownMessage;

export interface MailCounters {
  /** Accepted for sending, waiting for a sender (a queue, a pool, the outbox). */
  queued: number;
  /** Being sent right now. */
  inFlight: number;
  sent: number;
  failed: number;
  retried: number;
  abandoned: number;
}

export interface MetricsSnapshot {
  atMs: number;
  uptimeSec: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number };
  cpu: { userMs: number; systemMs: number; sinceLastMs: number };
  memory: { rssMiB: number; heapUsedMiB: number; heapTotalMiB: number };
  requests: { total: number; inFlight: number };
  emails: MailCounters;
}

/** An e-mail the API reported as failed: it gave up on it (GET /mail/failures). */
export interface MailFailure {
  /** The registration (user id), as in the e-mail's X-Registration-Id header. */
  id: string;
  to: string;
  reason: string;
  /** Given up before it reached the SMTP transport: it can never arrive. */
  cancelled: boolean;
}

/** The body of GET /mail/failures. */
export interface MailFailuresResponse {
  failures: MailFailure[];
}

/**
 * The body of GET /metrics. Event-loop delay and CPU cover the window since the last
 * GET /metrics?reset=window (the sampler's once-a-second read); a plain GET does not reset it.
 */
export interface MetricsResponse extends MetricsSnapshot {
  variant: Variant;
  hashCost: number;
  shutdown: ShutdownReport | null;
}

export class ContractError extends Error {
  readonly code = 'ERR_CONTRACT_MISMATCH';
  constructor(message: string) {
    super(
      `${message}: the runner and the API disagree on their contract (packages/target-api/src/contract)`,
    );
    this.name = 'ContractError';
  }
}

const NUMBER_FIELDS: Record<string, readonly string[]> = {
  '': ['atMs', 'uptimeSec', 'hashCost'],
  eventLoopDelayMs: ['p50', 'p99', 'max', 'mean'],
  cpu: ['userMs', 'systemMs', 'sinceLastMs'],
  memory: ['rssMiB', 'heapUsedMiB', 'heapTotalMiB'],
  requests: ['total', 'inFlight'],
  emails: ['queued', 'inFlight', 'sent', 'failed', 'retried', 'abandoned'],
};

/**
 * Checks that a /metrics body has every field of the contract, each a number; throws naming the
 * first that is not.
 */
export function readMetrics(body: unknown): MetricsResponse {
  const root = body as Record<string, unknown> | null;
  if (typeof root !== 'object' || root === null)
    throw new ContractError('/metrics did not answer a JSON object');
  for (const [section, fields] of Object.entries(NUMBER_FIELDS)) {
    const holder = (section === '' ? root : root[section]) as Record<string, unknown> | undefined;
    for (const field of fields) {
      if (typeof holder?.[field] !== 'number')
        throw new ContractError(
          `/metrics has no number at ${section ? `${section}.` : ''}${field}`,
        );
    }
  }
  return root as unknown as MetricsResponse;
}

/** The IPC message if it is one of the contract's, else null (other messages are ignored). */
export function readServerMessage(message: unknown): ServerMessage | null {
  const m = message as {
    type?: unknown;
    port?: unknown;
    pid?: unknown;
    drained?: unknown;
    abandoned?: unknown;
    failures?: unknown;
  } | null;
  if (typeof m !== 'object' || m === null) return null;
  if (m.type === 'ready' && typeof m.port === 'number' && typeof m.pid === 'number')
    return m as unknown as ReadyMessage;
  if (m.type === 'shutdown') {
    if (typeof m.drained !== 'number' || typeof m.abandoned !== 'number')
      throw new ContractError('a shutdown message without drained/abandoned counts');
    if (m.failures !== undefined) readMailFailures({ failures: m.failures });
    return m as unknown as ShutdownMessage;
  }
  return null;
}

/** Checks a /mail/failures body; throws naming what is missing. */
export function readMailFailures(body: unknown): MailFailure[] {
  const failures = (body as { failures?: unknown } | null)?.failures;
  if (!Array.isArray(failures)) throw new ContractError('/mail/failures has no failures array');
  for (const f of failures as Array<Record<string, unknown>>) {
    if (typeof f?.id !== 'string' || typeof f.to !== 'string' || typeof f.cancelled !== 'boolean') {
      throw new ContractError('/mail/failures has an entry without id, to or cancelled');
    }
  }
  return failures as MailFailure[];
}
