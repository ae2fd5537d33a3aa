/** The one rounding every stored figure gets: two decimals. */
export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
