/**
 * Comparisons that are a test: between the repeats of two cells (two runs, or two variants of one
 * run), the Mann-Whitney U test, Holm-corrected across the comparisons of one table. A difference
 * is called real when its adjusted p is below ALPHA and the medians differ by more than
 * MIN_RELATIVE_CHANGE (smaller changes are noise on these machines whatever the test says). Where
 * the repeats are too few for any outcome to reach ALPHA (3 a side: the smallest p is 0.1), the
 * comparison says "n too small" and gives the ranges: it never ranks.
 */
import type { CellResult } from '../shapes/results.ts';
import type { BreakingPoint } from '../shapes/run.ts';
import {
  holm,
  mannWhitney,
  medianInterval,
  repeatsToTest,
  smallestP,
  type MedianInterval,
} from './stats.ts';

export const ALPHA = 0.05;
export const MIN_RELATIVE_CHANGE = 0.05;

export type Verdict = 'real' | 'within noise' | 'n too small';

export interface Comparison {
  medianA: number;
  medianB: number;
  /** (B − A) / A */
  relativeChange: number;
  rangeA: [number, number];
  rangeB: [number, number];
  /** The medians' 95 % intervals (unbounded below 6 repeats). */
  intervalA: MedianInterval;
  intervalB: MedianInterval;
  /** The U test's two-sided p, Holm-adjusted when compared within a table; null: n too small to test. */
  p: number | null;
  verdict: Verdict;
}

export function median(values: number[]): number {
  return medianInterval(values).median;
}

/** Whether any outcome of n1 vs n2 repeats could be significant at ALPHA. */
export function testable(n1: number, n2: number): boolean {
  return smallestP(n1, n2) < ALPHA;
}

function verdictOf(p: number | null, relativeChange: number): Verdict {
  if (p === null) return 'n too small';
  return p < ALPHA && Math.abs(relativeChange) > MIN_RELATIVE_CHANGE ? 'real' : 'within noise';
}

/** One comparison, on its own (its p not adjusted); compareAll adjusts a table's. */
export function compareSamples(a: number[], b: number[]): Comparison {
  if (a.length === 0 || b.length === 0)
    throw new Error('compareSamples needs at least one value on each side');
  const intervalA = medianInterval(a);
  const intervalB = medianInterval(b);
  const medianA = intervalA.median;
  const medianB = intervalB.median;
  const relativeChange =
    medianA === 0 ? (medianB === 0 ? 0 : Number.POSITIVE_INFINITY) : (medianB - medianA) / medianA;
  const p = testable(a.length, b.length) ? mannWhitney(a, b).p : null;
  return {
    medianA,
    medianB,
    relativeChange,
    rangeA: [Math.min(...a), Math.max(...a)],
    rangeB: [Math.min(...b), Math.max(...b)],
    intervalA,
    intervalB,
    p,
    verdict: verdictOf(p, relativeChange),
  };
}

/** The comparisons of one table, their p adjusted together (Holm) and their verdicts made from it. */
export function compareAll<T extends Comparison>(rows: T[]): T[] {
  const tested = rows.filter((r) => r.p !== null);
  const adjusted = holm(tested.map((r) => r.p as number));
  return rows.map((r) => {
    const k = tested.indexOf(r);
    if (k < 0) return r;
    const p = adjusted[k] as number;
    return { ...r, p, verdict: verdictOf(p, r.relativeChange) };
  });
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

/** A search's limits, per repeated search (or the one search), for comparing runs' limits. */
function limitValues(bp: BreakingPoint, which: 'http' | 'mail'): number[] {
  const searches = bp.searches && bp.searches.length > 0 ? bp.searches : [bp];
  return searches
    .filter((s) => (which === 'http' ? s.httpNarrowed : s.mailNarrowed) !== false)
    .map((s) => (which === 'http' ? s.httpMaxRatePerSec : s.mailMaxRatePerSec))
    .filter((v): v is number => v !== null);
}

/** The breaking points both runs searched, limit by limit (each repeated search one value). */
function limitComparisons(a: BreakingPoint[], b: BreakingPoint[]): CellComparison[] {
  const out: CellComparison[] = [];
  for (const ea of a) {
    const eb = b.find((e) => e.label === ea.label);
    if (!eb) continue;
    for (const [which, metric] of [
      ['http', 'HTTP limit (/s)'],
      ['mail', 'e-mail limit (/s)'],
    ] as const) {
      const va = limitValues(ea, which);
      const vb = limitValues(eb, which);
      if (va.length === 0 || vb.length === 0) continue;
      out.push({
        variant: ea.label,
        requests: 0,
        metric,
        repeatsA: va.length,
        repeatsB: vb.length,
        ...compareSamples(va, vb),
      });
    }
  }
  return out;
}

/**
 * Two runs cell by cell (and limit by limit where both searched breaking points), their p values
 * adjusted together.
 */
export function compareRuns(
  a: CellResult[],
  b: CellResult[],
  limits: { a: BreakingPoint[]; b: BreakingPoint[] } = { a: [], b: [] },
): CellComparison[] {
  const key = (c: CellResult) => `${c.label ?? c.variant}\u0000${c.requests}`;
  const groups = new Map<string, { a: CellResult[]; b: CellResult[] }>();
  // An invalid cell's figures cannot be trusted: it is no repeat of either side.
  const trusted = (cells: CellResult[]) => cells.filter((c) => c.valid !== false);
  a = trusted(a);
  b = trusted(b);
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
  return compareAll([...out, ...limitComparisons(limits.a, limits.b)]);
}

const COLUMNS = [
  'variant',
  'requests',
  'metric',
  'A median [95% interval]',
  'B median [95% interval]',
  'change',
  'p (n)',
  'verdict',
];

/** Whether no row can be tested: every one has too few repeats on a side. */
function untestable(rows: CellComparison[]): boolean {
  return rows.length > 0 && rows.every((r) => r.verdict === 'n too small');
}

const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));

/** A median with its interval, or with the range where the repeats cannot bound an interval. */
function medianCell(i: MedianInterval, range: [number, number]): string {
  return i.lo === null || i.hi === null
    ? `${num(i.median)} (range ${num(range[0])}–${num(range[1])})`
    : `${num(i.median)} [${num(i.lo)}, ${num(i.hi)}]`;
}

/** One comparison row as the cells of a table, shared by the Markdown and the HTML forms. */
function rowCells(r: CellComparison): string[] {
  const change = Number.isFinite(r.relativeChange)
    ? `${r.relativeChange >= 0 ? '+' : ''}${(r.relativeChange * 100).toFixed(1)}%`
    : 'n/a';
  const n = `n=${r.repeatsA}+${r.repeatsB}`;
  return [
    r.variant,
    r.requests > 0 ? String(r.requests) : '–',
    r.metric,
    medianCell(r.intervalA, r.rangeA),
    medianCell(r.intervalB, r.rangeB),
    change,
    r.p === null ? `– (${n})` : `p=${r.p.toFixed(3)} (${n})`,
    r.verdict === 'within noise' ? '~' : r.verdict,
  ];
}

function ruleText(rows: CellComparison[]): string[] {
  const rule =
    `Mann-Whitney U per metric, Holm-corrected over the ${rows.length} comparisons of this table: "real" where the adjusted p < ${ALPHA} and the medians differ by more than ${MIN_RELATIVE_CHANGE * 100}%; "~" where not. ` +
    `"n too small": with these repeats no outcome can reach p < ${ALPHA} (3 a side: the smallest p is ${smallestP(3, 3).toFixed(2)}; 4 a side: ${smallestP(4, 4).toFixed(3)}), so only the ranges are given, never a rank. ` +
    'Medians with their 95 % interval (order statistics; below 6 repeats it cannot be bounded and the range is shown).';
  return untestable(rows)
    ? [
        rule,
        `No comparison here can be tested: run both with --repeats ${repeatsToTest(rows.length)} or more (6 for bounded intervals).`,
      ]
    : [rule];
}

/**
 * The comparison in Markdown; `warnings` (the runs configured differently, say) are written
 * before the table, as they are printed.
 */
export function renderComparison(
  rows: CellComparison[],
  labelA: string,
  labelB: string,
  warnings: string[] = [],
): string {
  const lines = [
    `# mailbench: ${labelA} → ${labelB}`,
    '',
    ...warnings.flatMap((w) => [`**Warning:** ${w}`, '']),
    ...ruleText(rows).flatMap((t) => [t, '']),
    `| ${COLUMNS.join(' | ')} |`,
    '|---|---:|---|---|---|---:|---|---|',
  ];
  for (const r of rows) lines.push(`| ${rowCells(r).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

export function renderComparisonHtml(
  rows: CellComparison[],
  labelA: string,
  labelB: string,
  warnings: string[] = [],
): string {
  const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = rows
    .map(
      (r) =>
        `<tr class="${r.verdict === 'real' ? 'real' : ''}">${rowCells(r)
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
${warnings.map((w) => `<p><strong>Warning:</strong> ${esc(w)}</p>`).join('\n')}
${ruleText(rows)
  .map((t) => `<p>${esc(t)}</p>`)
  .join('\n')}
<table><thead><tr>${COLUMNS.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>
${body}
</tbody></table>
</body></html>
`;
}
