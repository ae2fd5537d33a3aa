/**
 * The identities a cell's raw data must satisfy, checked by judgeCell on every cell, stored ones
 * too: the status and error counts, the 2xx, error and timeout figures, the latency, dispatch and
 * throughput summaries are recomputed from the samples they came from; the e-mails owed from the
 * 201s; the e-mail outcomes must add up; the sink's two attributions of what arrived must agree;
 * the users stored must cover the 2xx answers; the largest backlog must be the series' own. A cell
 * whose figures contradict its own raw data is a measurement that cannot be trusted.
 */
import { summarize, type LatencySummary } from '@mailbench/loadgen';
import { answeredAsMeant, owedOf } from '../config/requests.ts';
import { isSubject, subjectFacts } from '../config/subjects.ts';
import { countTimeouts } from './timeouts.ts';
import type { CellResult, Finding } from '../shapes/results.ts';

type Samples = NonNullable<CellResult['samples']>;

function countBy<T>(values: T[], keyOf: (v: T) => string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const key = keyOf(v);
    if (key !== null) out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

/**
 * Whether a stored summary is the summary of these values: the count exactly; mean and extremes
 * within the samples' 0.01 ms rounding; percentiles within HdrHistogram's 0.1 % as well.
 */
export function summaryMatches(stored: LatencySummary, values: number[]): boolean {
  const fresh = summarize(values);
  if (stored.count !== fresh.count) return false;
  const near = (a: number, b: number, relative: number) =>
    Math.abs(a - b) <= 0.02 + relative * Math.max(Math.abs(a), Math.abs(b));
  return (
    near(stored.mean, fresh.mean, 0) &&
    near(stored.max, fresh.max, 0) &&
    near(stored.min, fresh.min, 0) &&
    (['p50', 'p90', 'p99'] as const).every((p) => near(stored[p], fresh[p], 0.002))
  );
}

/** The requests that got the answer they were sent for (a 2xx; a bad request's own 4xx). */
export function expectedIndexes(s: Samples, share: number | undefined): number[] {
  return s.status.flatMap((status, i) => (answeredAsMeant(i, status, share) ? [i] : []));
}

/** Expected answers per second over the samples' span (first intended to last end), to 0.01. */
export function throughputOf(s: Samples, expected: number): number {
  const lastEndSec = s.endMs.length > 0 ? Math.max(...s.endMs) / 1000 : 0;
  return lastEndSec > 0 ? Math.round((expected / lastEndSec) * 100) / 100 : 0;
}

/** Columns of the samples, as numbers per request. */
function columns(s: Samples) {
  const n = s.status.length;
  const at = (col: number[], i: number) => col[i] as number;
  return {
    n,
    fromIntended: (i: number) => at(s.endMs, i) - at(s.intendedMs, i),
    fromSend: (i: number) => at(s.endMs, i) - at(s.sentMs, i),
    dispatch: (i: number) => at(s.sentMs, i) - at(s.intendedMs, i),
    indexes: Array.from({ length: n }, (_, i) => i),
  };
}

function latencyChecks(
  cell: CellResult,
  s: Samples,
  share: number | undefined,
  add: (code: string, message: string) => void,
): void {
  const c = columns(s);
  const isV1 = cell.schemaVersion < 2;
  // Version 1 summarized every sample; version 2 the expected answers, with every sample beside.
  const wanted = isV1 ? c.indexes : expectedIndexes(s, share);
  if (!isV1 && cell.expectedResponses !== wanted.length)
    add(
      'expected-identity',
      `${cell.expectedResponses} expected answers stored, ${wanted.length} in the samples`,
    );
  const pairs: Array<[string, LatencySummary | undefined, number[]]> = [
    ['latency from intended', cell.latencyMs?.fromIntended, wanted.map(c.fromIntended)],
    ['latency from send', cell.latencyMs?.fromSend, wanted.map(c.fromSend)],
    ['dispatch error', cell.dispatchErrorMs ?? undefined, c.indexes.map(c.dispatch)],
  ];
  if (!isV1) {
    pairs.push([
      'latency of all answers from intended',
      cell.latencyAllMs?.fromIntended,
      c.indexes.map(c.fromIntended),
    ]);
    pairs.push([
      'latency of all answers from send',
      cell.latencyAllMs?.fromSend,
      c.indexes.map(c.fromSend),
    ]);
  }
  for (const [name, stored, values] of pairs) {
    if (stored === undefined) {
      if (values.length > 0)
        add('summary-identity', `no stored ${name} for ${values.length} samples`);
    } else if (!summaryMatches(stored, values)) {
      add(
        'summary-identity',
        `the stored ${name} (n ${stored.count}, mean ${stored.mean} ms) is not that of the samples`,
      );
    }
  }
  if (!isV1 && c.n > 0) {
    const perSec = throughputOf(s, wanted.length);
    if (Math.abs(perSec - cell.throughputPerSec) > 0.01)
      add(
        'throughput-identity',
        `throughput ${cell.throughputPerSec}/s stored, ${perSec}/s from the samples`,
      );
  }
}

function replyChecks(
  cell: CellResult,
  s: Samples,
  add: (code: string, message: string) => void,
): void {
  const status = countBy(s.status, (x) => (x > 0 ? String(x) : null));
  if (!sameCounts(status, cell.statusCounts))
    add(
      'status-identity',
      `the status counts ${JSON.stringify(cell.statusCounts)} are not the samples' ${JSON.stringify(status)}`,
    );
  const errors = countBy(s.error, (x) => x);
  if (!sameCounts(errors, cell.errorCounts))
    add(
      'error-identity',
      `the error counts ${JSON.stringify(cell.errorCounts)} are not the samples' ${JSON.stringify(errors)}`,
    );
  const silent = s.status.filter((x, i) => x === 0 && s.error[i] === null).length;
  if (silent > 0) add('sample-identity', `${silent} samples have neither an answer nor an error`);
  const ok = s.status.filter((x) => x >= 200 && x < 300).length;
  if (cell.accounting.responses2xx !== ok)
    add('2xx-identity', `${cell.accounting.responses2xx} 2xx answers stored, ${ok} in the samples`);
  if (cell.errors !== cell.requests - ok)
    add(
      'errors-identity',
      `${cell.errors} errors stored for ${cell.requests - ok} requests without a 2xx`,
    );
  const timeouts = countTimeouts(errors);
  if ((cell.timeouts ?? timeouts) !== timeouts)
    add('timeouts-identity', `${cell.timeouts} timeouts stored, ${timeouts} in the samples`);
}

function mailChecks(
  cell: CellResult,
  s: Samples,
  share: number | undefined,
  add: (code: string, message: string) => void,
): void {
  const e = cell.emails;
  const sendsMail = !isSubject(cell.variant) || subjectFacts(cell.variant).sendsMail;
  const owed = sendsMail ? owedOf(s.status, share) : new Set<number>();
  if (e.expected !== owed.size)
    add('owed-identity', `${e.expected} e-mails owed stored, ${owed.size} from the samples' 201s`);
  const outcomes =
    e.delivered +
    e.failed +
    (e.failedButDeliveredLater ?? 0) +
    (e.abandoned ?? 0) +
    (e.held ?? 0) +
    e.lost;
  if (outcomes !== e.expected)
    add('mail-identity', `e-mail outcomes add up to ${outcomes}, not the ${e.expected} owed`);
  if (e.arrivedByAddress !== undefined && e.arrivedByAddress !== e.arrivedByRegistrationId) {
    add(
      'attribution-identity',
      `the sink has ${e.arrivedByAddress} sign-ups by address but ${e.arrivedByRegistrationId} by X-Registration-Id`,
    );
  }
}

/**
 * Every identity the cell's raw data breaks, as measurement findings (none for a cell without
 * samples).
 */
export function identityFindings(cell: CellResult, share: number | undefined): Finding[] {
  const out: Finding[] = [];
  const add = (code: string, message: string) => out.push({ kind: 'measurement', code, message });
  const s = cell.samples;
  if (!s || s.status.length !== cell.requests) return out;
  replyChecks(cell, s, add);
  latencyChecks(cell, s, share, add);
  mailChecks(cell, s, share, add);
  const a = cell.accounting;
  if (a.usersInDb !== null && a.usersInDb < a.responses2xx)
    add('users-identity', `${a.responses2xx} 2xx answers but only ${a.usersInDb} users stored`);
  const backlog = Math.max(0, ...cell.server.series.map((p) => p.emailsQueued + p.emailsInFlight));
  if (
    cell.emails.backlogMax !== null &&
    cell.server.series.length > 0 &&
    cell.emails.backlogMax !== backlog
  ) {
    add(
      'backlog-identity',
      `a largest backlog of ${cell.emails.backlogMax} stored, ${backlog} in the server's series`,
    );
  }
  return out;
}
