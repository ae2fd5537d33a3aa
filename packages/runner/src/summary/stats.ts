/**
 * The statistics a comparison needs, distribution-free: the Mann-Whitney U test between two sets
 * of repeats, Holm's correction across the comparisons of one table, and the median with the
 * order-statistic interval around it. With few repeats these say so (an interval that cannot be
 * bounded, a smallest reachable p) instead of inventing precision.
 */

export interface UTest {
  /** U of the first sample: the pairs (a, b) with a > b, ties counting one half. */
  u: number;
  /** Two-sided. */
  p: number;
  /** Exact (the null distribution of U, counted) or the normal approximation (ties, or large n). */
  method: 'exact' | 'normal';
  n1: number;
  n2: number;
}

/** Up to this many in each sample, without ties, p is counted exactly. */
const EXACT_MAX = 30;

/**
 * The fewest repeats a side with which Holm's correction over `comparisons` tests can still call
 * one of them real: its first step multiplies the smallest p by the number of tests. One
 * comparison needs 4 a side, two to six need 5, seven to twenty-three need 6.
 */
export function repeatsToTest(comparisons: number, alpha = 0.05): number {
  let n = 2;
  while (smallestP(n, n) * Math.max(1, comparisons) >= alpha) n++;
  return n;
}

/** The smallest two-sided p any result can reach with these sample sizes: 2 / C(n1 + n2, n1). */
export function smallestP(n1: number, n2: number): number {
  let ways = 1;
  for (let k = 1; k <= n1; k++) ways = (ways * (n2 + k)) / k;
  return Math.min(1, 2 / ways);
}

/** How many arrangements of n1 + n2 distinct values give each U (index), for the exact test. */
function uCounts(n1: number, n2: number): number[] {
  // f[j][k]: arrangements of i first-sample and j second-sample values with U = k, built up in i.
  let f: number[][] = Array.from({ length: n2 + 1 }, () => [1]);
  for (let i = 1; i <= n1; i++) {
    const next: number[][] = [[1]];
    for (let j = 1; j <= n2; j++) {
      const size = i * j + 1;
      const row = new Array<number>(size).fill(0);
      // The largest value is the first sample's (it beats all j) or the second's.
      const first = f[j] as number[];
      const second = next[j - 1] as number[];
      for (let k = 0; k < size; k++) row[k] = (first[k - j] ?? 0) + (second[k] ?? 0);
      next.push(row);
    }
    f = next;
  }
  return f[n2] as number[];
}

/** The standard normal distribution function (Abramowitz and Stegun 7.1.26, error < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

export function mannWhitney(a: readonly number[], b: readonly number[]): UTest {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new Error('mannWhitney: each sample needs at least one value');
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  const all = [...a, ...b].sort((x, y) => x - y);
  const tieSizes: number[] = [];
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j] === all[i]) j++;
    if (j - i > 1) tieSizes.push(j - i);
    i = j;
  }
  if (tieSizes.length === 0 && n1 <= EXACT_MAX && n2 <= EXACT_MAX) {
    const counts = uCounts(n1, n2);
    const total = counts.reduce((s, c) => s + c, 0);
    const low = counts.slice(0, Math.floor(u) + 1).reduce((s, c) => s + c, 0) / total;
    const high = counts.slice(Math.ceil(u)).reduce((s, c) => s + c, 0) / total;
    return { u, p: Math.min(1, 2 * Math.min(low, high)), method: 'exact', n1, n2 };
  }
  const n = n1 + n2;
  const ties = tieSizes.reduce((s, t) => s + t ** 3 - t, 0);
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return { u, p: 1, method: 'normal', n1, n2 };
  // With a continuity correction, as the exact distribution is discrete.
  const z = Math.max(0, Math.abs(u - (n1 * n2) / 2) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, 2 * (1 - normalCdf(z))), method: 'normal', n1, n2 };
}

/** Holm's step-down correction: each p adjusted for the m tests of one table, in the order given. */
export function holm(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

export interface MedianInterval {
  median: number;
  /** The interval's bounds (order statistics); null when n is too small to bound it at this confidence. */
  lo: number | null;
  hi: number | null;
  n: number;
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n;
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term = (term * (n - i + 1)) / i;
    sum += term;
  }
  return sum;
}

/**
 * The median and the distribution-free interval [x(k), x(n+1-k)] around it that covers the true
 * median with at least `confidence` (the largest such k). At 95 % it needs 6 values: with 5, even
 * [min, max] covers only 93.75 %.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianInterval {
  const n = values.length;
  if (n === 0) throw new Error('medianInterval: no values');
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(n / 2);
  const median =
    n % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  const tail = (1 - confidence) / 2;
  let k = 0;
  while (k + 1 <= Math.floor(n / 2) && binomialHalfCdf(n, k) <= tail) k++;
  if (k === 0) return { median, lo: null, hi: null, n };
  return { median, lo: sorted[k - 1] as number, hi: sorted[n - k] as number, n };
}
