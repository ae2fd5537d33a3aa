/**
 * The statistics of comparisons against values worked by hand (and by scipy's mannwhitneyu), and
 * the false-positive rate of the U test on synthetic A/A data: two samples from one distribution
 * must be called different no more often than α.
 */
import { createRandom, drawStandardNormal } from '@mailbench/smtp-sink';
import { describe, expect, it } from 'vitest';
import { rankingSentence } from '../src/summary/verdict.ts';
import {
  holm,
  mannWhitney,
  medianInterval,
  repeatsToTest,
  smallestP,
} from '../src/summary/stats.ts';

describe('Mann-Whitney U', () => {
  it('counts the exact null distribution: fully separated samples reach the smallest p', () => {
    const three = mannWhitney([1, 2, 3], [4, 5, 6]);
    expect(three).toMatchObject({ u: 0, method: 'exact', n1: 3, n2: 3 });
    // With three repeats a side nothing gets below 2 / C(6, 3) = 0.1: never "significant" at 0.05.
    expect(three.p).toBeCloseTo(0.1, 12);
    expect(smallestP(3, 3)).toBeCloseTo(0.1, 12);
    expect(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).p).toBeCloseTo(2 / 252, 12);
    expect(smallestP(5, 5)).toBeCloseTo(2 / 252, 12);
  });

  it('agrees with a worked example (scipy: U = 17, p = 0.1111)', () => {
    const r = mannWhitney([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r.u).toBe(17);
    // Arrangements with U ≤ 3 of C(9, 4) = 126: 1 + 1 + 2 + 3 = 7; two-sided 14 / 126.
    expect(r.p).toBeCloseTo(14 / 126, 12);
    expect(r.method).toBe('exact');
  });

  it('is symmetric, and gives p = 1 to samples that do not differ', () => {
    const a = [3.1, 4.7, 2.2, 5.9];
    const b = [4.1, 3.3, 6.2, 2.8, 5.1];
    expect(mannWhitney(a, b).p).toBeCloseTo(mannWhitney(b, a).p, 12);
    expect(mannWhitney(a, b).u + mannWhitney(b, a).u).toBe(a.length * b.length);
    const same = mannWhitney([1, 2, 3, 4], [1, 2, 3, 4]);
    expect(same.method).toBe('normal'); // ties: the normal approximation with the tie correction
    expect(same.p).toBeCloseTo(1, 6);
  });

  it('calls A/A samples different no more often than α (synthetic, 2000 pairs of 6 repeats)', () => {
    // The sink's seeded generator, so the check draws the same numbers every time.
    const random = createRandom(42);
    // Latency-like: log-normal around 50 ms.
    const draw = () => 50 * Math.exp(0.3 * drawStandardNormal(random));
    const alpha = 0.05;
    let rejected = 0;
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      const a = Array.from({ length: 6 }, draw);
      const b = Array.from({ length: 6 }, draw);
      if (mannWhitney(a, b).p < alpha) rejected++;
    }
    // The exact test is conservative (its p is discrete); the margin is the draw's own noise
    // (2 standard errors of a rate of 0.05 over 2000 trials is 0.01).
    expect(rejected / trials).toBeLessThanOrEqual(alpha + 0.01);
    // And with 6 repeats a side it finds a difference of 1.6 × (about 1.6 standard deviations of the
    // log) most of the time; 20 % it would mostly miss: that is what 6 repeats can resolve.
    let found = 0;
    for (let t = 0; t < 500; t++) {
      const a = Array.from({ length: 6 }, draw);
      const b = Array.from({ length: 6 }, () => 1.6 * draw());
      if (mannWhitney(a, b).p < alpha) found++;
    }
    expect(found / 500).toBeGreaterThan(0.5);
  });
});

describe('Holm', () => {
  it('multiplies the smallest p by m, the next by m − 1, never letting an adjusted p fall', () => {
    const adjusted = holm([0.01, 0.04, 0.03]);
    expect(adjusted[0]).toBeCloseTo(0.03, 12);
    expect(adjusted[1]).toBeCloseTo(0.06, 12); // 0.04 × 1, raised to the step before it
    expect(adjusted[2]).toBeCloseTo(0.06, 12);
    expect(holm([0.5, 0.9])).toEqual([1, 1]);
    expect(holm([])).toEqual([]);
  });
});

describe('the median and its interval', () => {
  it('cannot bound a 95 % interval with fewer than 6 values', () => {
    expect(medianInterval([5, 1, 3, 2, 4])).toEqual({ median: 3, lo: null, hi: null, n: 5 });
    expect(medianInterval([6, 1, 3, 2, 4, 5])).toEqual({ median: 3.5, lo: 1, hi: 6, n: 6 });
  });

  it('narrows to order statistics as n grows', () => {
    const ten = Array.from({ length: 10 }, (_, i) => i + 1);
    // P(B(10, ½) ≤ 1) = 11/1024 ≤ 2.5 % < P(≤ 2): the 2nd and 9th values.
    expect(medianInterval(ten)).toEqual({ median: 5.5, lo: 2, hi: 9, n: 10 });
    expect(medianInterval(ten, 0.5).lo).toBeGreaterThan(2);
  });
});

describe('the repeats a test needs', () => {
  it("counts Holm's correction: 4 a side for one comparison, 5 for the five between six variants", () => {
    expect(repeatsToTest(1)).toBe(4);
    expect(repeatsToTest(5)).toBe(5);
    expect(repeatsToTest(6)).toBe(5);
    expect(repeatsToTest(7)).toBe(6);
    // Each is the first n whose smallest p, times the comparisons, is under 0.05.
    for (const m of [1, 2, 5, 7, 23, 24]) {
      const n = repeatsToTest(m);
      expect(smallestP(n, n) * m).toBeLessThan(0.05);
      expect(smallestP(n - 1, n - 1) * m).toBeGreaterThanOrEqual(0.05);
    }
  });

  it('is what an unranked table tells its reader to run', () => {
    const unranked = { requests: 167, metric: 'avgFromSendMs' as const, n: 2, order: null };
    expect(rankingSentence(unranked, 6)).toMatch(
      /the smallest p with 2 a side is 0\.33; run with --repeats 5 or more to rank 6 variants/,
    );
    expect(rankingSentence(unranked, 2)).toContain('--repeats 4 or more to rank 2 variants');
  });
});
