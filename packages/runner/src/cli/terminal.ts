/**
 * The summary as a terminal shows it: the verdict, then one aligned table per request count,
 * at most 120 columns wide. summary.md keeps the full tables.
 */
import { subjectFacts } from '../config/subjects.ts';
import type { RunInfo, Summary, SummaryRow } from '../shapes/run.ts';

const WIDTH = 118;

/** Wraps a sentence into lines of at most WIDTH characters, indented after the first. */
export function wrap(text: string, first = '', rest = '  '): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/)) {
    if (line.trim() !== '' && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = rest + word;
    } else {
      line = line.endsWith(' ') || line === '' ? line + word : `${line} ${word}`;
    }
  }
  if (line.trim() !== '') lines.push(line);
  return lines;
}

interface Column {
  title: string;
  left?: boolean;
  cell(r: SummaryRow): string;
}

const num = (v: number | null, censored = false) =>
  v === null ? '–' : `${censored ? '≥' : ''}${Math.round(v)}`;

const COLUMNS: Column[] = [
  { title: 'variant', left: true, cell: (r) => r.label },
  {
    title: 'req/s',
    cell: (r) => (r.throughputPerSec === null ? '–' : r.throughputPerSec.toFixed(1)),
  },
  {
    title: 'avg send ms',
    cell: (r) =>
      `${num(r.avgFromSendMs, r.timeouts > 0)}${r.avgFromSendRangeMs ? ` (${num(r.avgFromSendRangeMs[0])}-${num(r.avgFromSendRangeMs[1])})` : ''}`,
  },
  { title: 'p50', cell: (r) => num(r.p50Ms, r.timeouts > 0) },
  { title: 'p99', cell: (r) => num(r.p99Ms, r.timeouts > 0) },
  { title: 'max', cell: (r) => num(r.maxMs, r.timeouts > 0) },
  { title: 'errors', cell: (r) => `${r.errors}${r.timeouts ? ` (${r.timeouts} t/o)` : ''}` },
  {
    title: 'mail ok/owed',
    cell: (r) =>
      subjectFacts(r.variant).sendsMail ? `${r.emailsDelivered}/${r.emailsExpected}` : '–',
  },
  { title: 'failed', cell: (r) => String(r.emailsFailed + r.emailsFailedButDeliveredLater) },
  { title: 'lost', cell: (r) => String(r.emailsLost) },
  { title: 'lag p99', cell: (r) => num(r.deliveryLagP99Ms) },
  { title: 'valid', left: true, cell: (r) => (r.valid ? 'yes' : r.failed ? 'FAILED' : 'NO') },
];

function table(rows: SummaryRow[]): string[] {
  const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
  const widths = COLUMNS.map((c, k) =>
    Math.max(c.title.length, ...cells.map((row) => (row[k] as string).length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, k) =>
        COLUMNS[k]?.left ? v.padEnd(widths[k] as number) : v.padStart(widths[k] as number),
      )
      .join('  ')
      .trimEnd();
  return [line(COLUMNS.map((c) => c.title)), ...cells.map(line)];
}

export function renderTerminalSummary(summary: Summary, run: RunInfo): string {
  const s = run.scenario;
  const lines: string[] = [
    `mailbench ${summary.scenarioName}${summary.complete ? '' : ' (INCOMPLETE: interrupted)'}: ${run.runId}`,
    '',
  ];
  for (const sentence of summary.verdict) lines.push(...wrap(sentence, '- '));
  for (const requests of s.requests) {
    const rows = summary.rows.filter((r) => r.requests === requests);
    if (rows.length === 0) continue;
    lines.push(
      '',
      `${requests} requests in ${s.durationSec} s (${(requests / s.durationSec).toFixed(1)}/s): ms, avg from send (range of repeats), p50/p99/max from intended; ≥ lower bound`,
    );
    lines.push(...table(rows));
  }
  return `${lines.join('\n')}\n`;
}
