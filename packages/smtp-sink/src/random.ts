/**
 * Seeded pseudo-random numbers, so that a sink started with the same seed
 * draws the same latencies and the same faults in the same order.
 * mulberry32: 32-bit state, fast, and good enough for load modelling.
 */
export type Random = () => number;

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller), using two uniform draws. */
export function drawStandardNormal(random: Random): number {
  const u1 = Math.max(random(), Number.MIN_VALUE);
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** z such that P(Z <= z) = 0.99 for a standard normal Z. */
export const Z_P99 = 2.3263478740408408;
