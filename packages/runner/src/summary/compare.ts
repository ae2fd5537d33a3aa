/**
 * Run-to-run comparison. A difference is called real only when the repeats support it:
 * both runs have at least MIN_REPEATS repeats of the cell, the ranges of their per-repeat values
 * do not overlap, and the medians differ by more than MIN_RELATIVE_CHANGE. Disjoint ranges of
 * 3 vs 3 repeats is the strongest evidence three repeats can give (a rank-sum test's most extreme
 * outcome, two-sided p = 0.1); it is a conservative rule for noisy shared machines, not a
 * significance test. With fewer repeats the comparison is printed but never called real.
 */
import type { CellResult } from '../shapes/results.ts';

export const MIN_REPEATS = 2;
export const MIN_RELATIVE_CHANGE = 0.05;

export type Verdict = 'real' | 'within noise' | 'not enough repeats';

export interface Comparison {
  medianA: number;
  medianB: number;
  /** (B − A) / A */
  relativeChange: number;
  rangeA: [number, number];
  rangeB: [number, number];
  verdict: Verdict;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function compareSamples(a: number[], b: number[]): Comparison {
  if (a.length === 0 || b.length === 0)
    throw new Error('compareSamples needs at least one value on each side');
  const rangeA: [number, number] = [Math.min(...a), Math.max(...a)];
  const rangeB: [number, number] = [Math.min(...b), Math.max(...b)];
  const medianA = median(a);
  const medianB = median(b);
  const relativeChange =
    medianA === 0 ? (medianB === 0 ? 0 : Number.POSITIVE_INFINITY) : (medianB - medianA) / medianA;
  let verdict: Verdict;
  if (a.length < MIN_REPEATS || b.length < MIN_REPEATS) verdict = 'not enough repeats';
  else {
    const disjoint = rangeA[1] < rangeB[0] || rangeB[1] < rangeA[0];
    verdict = disjoint && Math.abs(relativeChange) > MIN_RELATIVE_CHANGE ? 'real' : 'within noise';
  }
  return { medianA, medianB, relativeChange, rangeA, rangeB, verdict };
}

export interface CellComparison extends Comparison {
  variant: string;
  requests: number;
  metric: string;
  repeatsA: number;
  repeatsB: number;
}

const METRICS: Array<{ name: string; pick: (c: CellResult) => number | null }> = [
  { name: 'avg from intended (ms)', pick: (c) => c.latencyMs?.fromIntended.mean ?? null },
  { name: 'p99 from intended (ms)', pick: (c) => c.latencyMs?.fromIntended.p99 ?? null },
  { name: 'e-mails lost', pick: (c) => (c.status === 'ok' ? c.emails.lost : null) },
];

export function compareRuns(a: CellResult[], b: CellResult[]): CellComparison[] {
  const key = (c: CellResult) => `${c.label ?? c.variant}\u0000${c.requests}`;
  const groups = new Map<string, { a: CellResult[]; b: CellResult[] }>();
  for (const c of a) {
    const g = groups.get(key(c)) ?? { a: [], b: [] };
    g.a.push(c);
    groups.set(key(c), g);
  }
  for (const c of b) {
    const g = groups.get(key(c));
    if (g) g.b.push(c);
  }
  const out: CellComparison[] = [];
  for (const g of groups.values()) {
    if (g.b.length === 0) continue;
    const first = g.a[0] as CellResult;
    for (const metric of METRICS) {
      const va = g.a.map(metric.pick).filter((v): v is number => v !== null);
      const vb = g.b.map(metric.pick).filter((v): v is number => v !== null);
      if (va.length === 0 || vb.length === 0) continue;
      out.push({
        variant: first.label ?? first.variant,
        requests: first.requests,
        metric: metric.name,
        repeatsA: va.length,
        repeatsB: vb.length,
        ...compareSamples(va, vb),
      });
    }
  }
  return out;
}

const COLUMNS = [
  'variant',
  'requests',
  'metric',
  'A median (range, n)',
  'B median (range, n)',
  'change',
  'verdict',
];

/** Whether every row has n = 1 on a side: then no row can say more than its single values. */
function singleRepeats(rows: CellComparison[]): boolean {
  return rows.length > 0 && rows.every((r) => r.verdict === 'not enough repeats');
}

/** One comparison row as the cells of a table, shared by the Markdown and the HTML forms. */
function rowCells(r: CellComparison, single: boolean): string[] {
  const f = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
  const change = Number.isFinite(r.relativeChange)
    ? `${r.relativeChange >= 0 ? '+' : ''}${(r.relativeChange * 100).toFixed(1)}%`
    : 'n/a';
  return [
    r.variant,
    String(r.requests),
    r.metric,
    `${f(r.medianA)} (${f(r.rangeA[0])}–${f(r.rangeA[1])}, ${r.repeatsA})`,
    `${f(r.medianB)} (${f(r.rangeB[0])}–${f(r.rangeB[1])}, ${r.repeatsB})`,
    change,
    single ? '–' : r.verdict,
  ];
}

function ruleText(rows: CellComparison[]): string[] {
  const rule = `A difference is "real" when both runs have ≥ ${MIN_REPEATS} repeats, their ranges do not overlap and the medians differ by more than ${MIN_RELATIVE_CHANGE * 100}%.`;
  return singleRepeats(rows)
    ? [
        rule,
        `n = 1 on at least one side of every cell: no significance possible, the changes below are single measurements (run with --repeats ${MIN_REPEATS + 1}).`,
      ]
    : [rule];
}

export function renderComparison(rows: CellComparison[], labelA: string, labelB: string): string {
  const single = singleRepeats(rows);
  const lines = [
    `# mailbench: ${labelA} → ${labelB}`,
    '',
    ...ruleText(rows).flatMap((t) => [t, '']),
    `| ${COLUMNS.join(' | ')} |`,
    '|---|---:|---|---|---|---:|---|',
  ];
  for (const r of rows) lines.push(`| ${rowCells(r, single).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

export function renderComparisonHtml(
  rows: CellComparison[],
  labelA: string,
  labelB: string,
): string {
  const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const single = singleRepeats(rows);
  const body = rows
    .map(
      (r) =>
        `<tr class="${r.verdict === 'real' ? 'real' : ''}">${rowCells(r, single)
          .map((c) => `<td>${esc(c)}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailbench: ${esc(labelA)} → ${esc(labelB)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child,td:nth-child(3){text-align:left}tr.real td{background:#fff6d5}</style></head><body>
<h1>mailbench: ${esc(labelA)} → ${esc(labelB)}</h1>
${ruleText(rows)
  .map((t) => `<p>${esc(t)}</p>`)
  .join('\n')}
<table><thead><tr>${COLUMNS.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>
${body}
</tbody></table>
</body></html>
`;
}
