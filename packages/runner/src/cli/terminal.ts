/**
 * The summary as a terminal shows it: the verdict, then one aligned table per request count,
 * at most 120 columns wide. summary.md keeps the full tables.
 */

import type { RunInfo, Summary, SummaryRow } from '../shapes/run.ts';
import { TERMINAL_COLUMNS, type RowColumn } from '../summary/columns.ts';

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

function table(rows: SummaryRow[]): string[] {
  const COLUMNS = TERMINAL_COLUMNS;
  const title = (c: RowColumn) => c.short ?? c.title;
  const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
  const widths = COLUMNS.map((c, k) =>
    Math.max(title(c).length, ...cells.map((row) => (row[k] as string).length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, k) =>
        COLUMNS[k]?.left ? v.padEnd(widths[k] as number) : v.padStart(widths[k] as number),
      )
      .join('  ')
      .trimEnd();
  return [line(COLUMNS.map(title)), ...cells.map(line)];
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
