import { describe, expect, it } from 'vitest';
import {
  compareSamples,
  median,
  MIN_RELATIVE_CHANGE,
  renderComparison,
  renderComparisonHtml,
} from '../src/summary/compare.ts';

describe('the comparison decision rule', () => {
  it('calls a difference real only when repeats do not overlap and the change is large enough', () => {
    expect(compareSamples([100, 104, 102], [130, 128, 135]).verdict).toBe('real');
    expect(compareSamples([100, 104, 102], [90, 80, 85]).verdict).toBe('real');
  });

  it('overlapping ranges are noise, however different the medians', () => {
    const c = compareSamples([100, 150, 102], [140, 145, 160]);
    expect(c.rangeA).toEqual([100, 150]);
    expect(c.verdict).toBe('within noise');
  });

  it('disjoint but tiny changes are noise', () => {
    const tiny = 1 + MIN_RELATIVE_CHANGE / 2;
    expect(compareSamples([100, 100.5], [100 * tiny, 100.6 * tiny]).verdict).toBe('within noise');
  });

  it('single runs are never called real', () => {
    expect(compareSamples([100], [1000]).verdict).toBe('not enough repeats');
    expect(compareSamples([100, 101], [1000]).verdict).toBe('not enough repeats');
  });

  it('reports medians and the relative change', () => {
    const c = compareSamples([10, 30, 20], [40, 44]);
    expect(c.medianA).toBe(20);
    expect(c.medianB).toBe(42);
    expect(c.relativeChange).toBeCloseTo(1.1, 10);
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
    ...compareSamples(Array(repeats).fill(50), Array(repeats).fill(80)),
  });

  it('says once that single repeats allow no significance, and calls no row', () => {
    const md = renderComparison([row(1), row(1)], 'A', 'B');
    expect(md.match(/n = 1/g)).toHaveLength(1);
    expect(md).not.toContain('not enough repeats');
    expect(renderComparisonHtml([row(1)], 'A', 'B')).toContain('<p>n = 1 on at least one side');
  });

  it('shows the verdict with enough repeats, in Markdown and HTML alike', () => {
    expect(renderComparison([row(3)], 'A', 'B')).toContain('| +60.0% | real |');
    expect(renderComparisonHtml([row(3)], 'A', 'B')).toContain('<tr class="real">');
  });
});
