/**
 * Comparisons that are a test: the U test's verdicts on repeats, Holm's correction across a table,
 * "n too small" where no outcome could be significant, and the table as pnpm report --compare
 * writes it.
 */
import { describe, expect, it } from 'vitest';
import {
  compareAll,
  compareSamples,
  median,
  MIN_RELATIVE_CHANGE,
  renderComparison,
  renderComparisonHtml,
  testable,
  compareRuns,
} from '../src/summary/compare.ts';
import type { CellResult } from '../src/shapes/results.ts';
import type { BreakingPoint } from '../src/shapes/run.ts';

const six = (base: number, spread = 2) => [0, 1, 2, 3, 4, 5].map((k) => base + k * spread);

describe('the comparison decision rule', () => {
  it('calls a difference real when the U test finds it and the change is large enough', () => {
    const up = compareSamples(six(100), six(130));
    expect(up.verdict).toBe('real');
    expect(up.p).toBeCloseTo(2 / 924, 10); // 6 vs 6 fully separated: the smallest p, 2 / C(12, 6)
    expect(compareSamples(six(100), six(80)).verdict).toBe('real');
  });

  it('overlapping repeats are noise, however different the medians', () => {
    const c = compareSamples([100, 150, 102, 101, 149, 103], [140, 145, 160, 99, 104, 151]);
    expect(c.rangeA).toEqual([100, 150]);
    expect(c.verdict).toBe('within noise');
    expect(c.p).toBeGreaterThan(0.05);
  });

  it('a significant but tiny change is noise', () => {
    const tiny = 1 + MIN_RELATIVE_CHANGE / 2;
    const c = compareSamples(six(100, 0.1), six(100 * tiny, 0.1));
    expect(c.p).toBeLessThan(0.05);
    expect(c.verdict).toBe('within noise');
  });

  it('says "n too small" where no outcome could reach p < 0.05, and never tests', () => {
    expect(testable(3, 3)).toBe(false); // the smallest p of 3 vs 3 is 0.1
    expect(testable(4, 4)).toBe(true); // 2 / 70 = 0.029
    for (const [a, b] of [
      [[100], [1000]],
      [[100, 101], [1000]],
      [
        [100, 104, 102],
        [130, 128, 135],
      ],
    ] as Array<[number[], number[]]>) {
      expect(compareSamples(a, b)).toMatchObject({ verdict: 'n too small', p: null });
    }
  });

  it('Holm-corrects a table: two findings at p = 0.03 each are not both real', () => {
    const at = (p: number) => ({
      ...compareSamples(six(100), six(200)),
      p,
      verdict: 'real' as const,
    });
    const [a, b] = compareAll([at(0.03), at(0.03)]);
    expect(a?.p).toBeCloseTo(0.06, 12);
    expect(b?.verdict).toBe('within noise');
    expect(compareAll([at(0.01), at(0.04)]).map((r) => r.verdict)).toEqual(['real', 'real']);
  });

  it('reports medians, their intervals and the relative change', () => {
    const c = compareSamples([10, 30, 20], [40, 44]);
    expect(c.medianA).toBe(20);
    expect(c.medianB).toBe(42);
    expect(c.relativeChange).toBeCloseTo(1.1, 10);
    expect(c.intervalA).toMatchObject({ lo: null, hi: null, n: 3 }); // unbounded below 6 repeats
    expect(compareSamples(six(10), six(20)).intervalA).toMatchObject({ lo: 10, hi: 20 });
    expect(median([3, 1, 2, 4])).toBe(2.5);
    expect(compareSamples([0, 0], [0, 0]).relativeChange).toBe(0);
    expect(() => compareSamples([], [1])).toThrow();
  });
});

describe('rendering a comparison', () => {
  const row = (repeats: number) => ({
    variant: 'inline',
    requests: 750,
    metric: 'avg from intended (ms)',
    repeatsA: repeats,
    repeatsB: repeats,
    ...compareSamples(
      Array.from({ length: repeats }, (_, k) => 50 + k),
      Array.from({ length: repeats }, (_, k) => 80 + k),
    ),
  });

  it('says once that nothing can be tested, and ranks no row', () => {
    const md = renderComparison([row(3), row(1)], 'A', 'B');
    expect(md.match(/No comparison here can be tested/g)).toHaveLength(1);
    expect(md).toContain(
      '| 51.0 (range 50.0–52.0) | 81.0 (range 80.0–82.0) | +58.8% | – (n=3+3) | n too small |',
    );
    expect(renderComparisonHtml([row(1)], 'A', 'B')).toContain(
      '<p>No comparison here can be tested',
    );
  });

  it('with enough repeats: medians with intervals, Δ, p and n, the verdict; Markdown and HTML alike', () => {
    const md = renderComparison([row(6)], 'A', 'B');
    expect(md).toContain(
      '| 52.5 [50.0, 55.0] | 82.5 [80.0, 85.0] | +57.1% | p=0.002 (n=6+6) | real |',
    );
    expect(md).toContain('Holm-corrected over the 1 comparisons');
    expect(renderComparisonHtml([row(6)], 'A', 'B')).toContain('<tr class="real">');
  });
});

describe('comparing two runs', () => {
  it('leaves out the cells whose measurement is invalid', () => {
    const cell = (mean: number, valid = true) =>
      ({
        label: 'background',
        variant: 'background',
        requests: 167,
        status: 'ok',
        valid,
        latencyMs: { fromIntended: { mean, p99: mean * 2 } },
        emails: { lost: 0 },
      }) as unknown as CellResult;
    const a = [...six(50, 1).map((m) => cell(m)), cell(900, false)];
    const b = six(50, 1).map((m) => cell(m));
    const [avg] = compareRuns(a, b);
    expect(avg).toMatchObject({ metric: 'avg from intended (ms)', repeatsA: 6, repeatsB: 6 });
    expect(avg?.relativeChange).toBe(0);
  });

  it('compares breaking-point limits search by search, adjusted with the cells of the table', () => {
    const bp = (label: string, limits: number[]) =>
      ({
        label,
        httpMaxRatePerSec: limits[0],
        httpNarrowed: true,
        mailMaxRatePerSec: null,
        searches: limits.map((v) => ({
          label,
          httpMaxRatePerSec: v,
          httpNarrowed: true,
          mailMaxRatePerSec: null,
        })),
      }) as unknown as BreakingPoint;
    const rows = compareRuns([], [], {
      a: [bp('inline', [9.5, 9.8, 9.6, 9.7, 9.4]), bp('outbox', [30, 31, 29, 30.5])],
      b: [bp('inline', [12.1, 12.5, 12.2, 12.4, 12.3]), bp('outbox', [30.2, 29.5, 31.2, 30.1])],
    });
    expect(rows.map((r) => [r.variant, r.metric, r.verdict])).toEqual([
      ['inline', 'HTTP limit (/s)', 'real'],
      ['outbox', 'HTTP limit (/s)', 'within noise'],
    ]);
    // 5 vs 5 fully separated: 2/252, doubled by Holm over the two rows (4 vs 4, 2/70, would not
    // survive the doubling).
    expect(rows[0]?.p).toBeCloseTo(4 / 252, 10);
    expect(renderComparison(rows, 'A', 'B')).toContain('| inline | – | HTTP limit (/s) |');
  });
});
