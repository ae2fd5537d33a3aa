/**
 * The summary as a terminal shows it: the verdict, then one aligned table per request count,
 * as wide as the terminal allows (at most 120 columns; 80 when the output is not a terminal).
 * A narrow terminal loses the table's least needed columns first. summary.md keeps them all.
 */

import type { RunInfo, Summary, SummaryRow } from '../shapes/run.ts';
import { TERMINAL_COLUMNS, type RowColumn } from '../summary/columns.ts';

/** The widest the summary gets, whatever the terminal. */
export const MAX_WIDTH = 120;

/** The columns a narrow terminal drops, in this order, until the table fits. */
const DROPPED_FIRST = ['p50', 'max', 'failed', 'lag p99', 'req/s', 'errors'];

/** Wraps a sentence into lines of at most `width` characters, indented after the first. */
export function wrap(text: string, first = '', rest = '  ', width = MAX_WIDTH - 2): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/)) {
    if (line.trim() !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line = line.endsWith(' ') || line === '' ? line + word : `${line} ${word}`;
    }
  }
  if (line.trim() !== '') lines.push(line);
  return lines;
}

function table(rows: SummaryRow[], width: number): string[] {
  let columns = [...TERMINAL_COLUMNS];
  const title = (c: RowColumn) => c.short ?? c.title;
  const render = () => {
    const cells = rows.map((r) => columns.map((c) => c.cell(r)));
    const widths = columns.map((c, k) =>
      Math.max(title(c).length, ...cells.map((row) => (row[k] as string).length)),
    );
    const line = (values: string[]) =>
      values
        .map((v, k) =>
          columns[k]?.left ? v.padEnd(widths[k] as number) : v.padStart(widths[k] as number),
        )
        .join('  ')
        .trimEnd();
    return [line(columns.map(title)), ...cells.map(line)];
  };
  let lines = render();
  for (const drop of DROPPED_FIRST) {
    if (Math.max(...lines.map((l) => l.length)) <= width) break;
    columns = columns.filter((c) => title(c) !== drop);
    lines = render();
  }
  return lines;
}

export function renderTerminalSummary(summary: Summary, run: RunInfo, columns = MAX_WIDTH): string {
  const width = Math.min(columns, MAX_WIDTH);
  const s = run.scenario;
  const lines: string[] = [
    `mailbench ${summary.scenarioName}${summary.complete ? '' : ' (INCOMPLETE: interrupted)'}: ${run.runId}`,
    '',
  ];
  for (const sentence of summary.verdict) lines.push(...wrap(sentence, '- ', '  ', width - 2));
  for (const requests of s.requests) {
    const rows = summary.rows.filter((r) => r.requests === requests);
    if (rows.length === 0) continue;
    lines.push(
      '',
      ...wrap(
        `${requests} requests in ${s.durationSec} s (${(requests / s.durationSec).toFixed(1)}/s): ms, avg from send (range of repeats), p50/p99/max from intended; ≥ lower bound`,
        '',
        '  ',
        width - 2,
      ),
    );
    lines.push(...table(rows, width));
  }
  return `${lines.join('\n')}\n`;
}
