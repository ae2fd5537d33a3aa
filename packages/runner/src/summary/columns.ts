/**
 * The columns of a summary row, defined once: summary.md, report.html and the terminal render the
 * same cells (the terminal the narrow subset), with one way of writing a censored latency ("≥").
 */
import { subjectFacts } from '../config/subjects.ts';
import type { SummaryRow } from '../shapes/run.ts';

export interface RowColumn {
  title: string;
  /** The terminal's narrower title; absent: the column is left out of the terminal's table. */
  short?: string;
  /** Text columns align left, figures right. */
  left?: boolean;
  /** Left out of a table where no row fills it. */
  optional?: boolean;
  cell(r: SummaryRow): string;
}

/** A figure in ms, whole; "≥" when some requests hit the client's timeout (a lower bound). */
export function ms(v: number | null, censored = false): string {
  return v === null ? '–' : `${censored ? '≥' : ''}${Math.round(v)}`;
}

const censored = (r: SummaryRow) => r.timeouts > 0;
const sendsMail = (r: SummaryRow) => subjectFacts(r.variant).sendsMail;

export const ROW_COLUMNS: readonly RowColumn[] = [
  { title: 'variant', short: 'variant', left: true, cell: (r) => r.label },
  {
    title: 'req/s',
    short: 'req/s',
    cell: (r) => (r.throughputPerSec === null ? '–' : r.throughputPerSec.toFixed(1)),
  },
  {
    title: 'avg from send',
    short: 'avg send ms',
    cell: (r) =>
      `${ms(r.avgFromSendMs, censored(r))}${r.avgFromSendRangeMs ? ` (${ms(r.avgFromSendRangeMs[0])}–${ms(r.avgFromSendRangeMs[1])})` : ''}`,
  },
  { title: 'avg from intended', cell: (r) => ms(r.avgFromIntendedMs, censored(r)) },
  { title: 'p50', short: 'p50', cell: (r) => ms(r.p50Ms, censored(r)) },
  { title: 'p99', short: 'p99', cell: (r) => ms(r.p99Ms, censored(r)) },
  { title: 'max', short: 'max', cell: (r) => ms(r.maxMs, censored(r)) },
  {
    title: 'errors',
    short: 'errors',
    cell: (r) => `${r.errors}${r.timeouts ? ` (${r.timeouts} t/o)` : ''}`,
  },
  {
    title: 'e-mails delivered / owed',
    short: 'mail ok/owed',
    cell: (r) => (sendsMail(r) ? `${r.emailsDelivered}/${r.emailsExpected}` : '–'),
  },
  {
    title: 'failed',
    short: 'failed',
    cell: (r) => String(r.emailsFailed + r.emailsFailedButDeliveredLater),
  },
  { title: 'lost', short: 'lost', cell: (r) => String(r.emailsLost) },
  { title: 'dup.', cell: (r) => String(r.emailsDuplicated) },
  { title: 'lag p99', short: 'lag p99', cell: (r) => ms(r.deliveryLagP99Ms) },
  { title: 'backlog max', cell: (r) => ms(r.backlogMax) },
  { title: 'drain s', cell: (r) => (r.drainSec === null ? '–' : r.drainSec.toFixed(1)) },
  {
    title: 'valid',
    short: 'valid',
    left: true,
    cell: (r) => (r.valid ? 'yes' : r.failed ? 'FAILED' : 'NO'),
  },
  {
    title: 'reference avg, ms (other stack)',
    left: true,
    optional: true,
    cell: (r) => (r.reference ? `${r.reference.label} ${r.reference.avgMs}` : ''),
  },
];

/** The columns of a table of these rows: an optional one that no row fills is left out. */
export function columnsFor(rows: readonly SummaryRow[]): RowColumn[] {
  return ROW_COLUMNS.filter((c) => !c.optional || rows.some((r) => c.cell(r) !== ''));
}

/** The columns the terminal shows (those with a short title). */
export const TERMINAL_COLUMNS = ROW_COLUMNS.filter((c) => c.short !== undefined);
