/**
 * How the generated docs print numbers: one place for ranges, rates and durations, so a figure
 * reads the same in every block that quotes it.
 */

/** A range of values as "lo–hi" (one value when both ends print the same, "–" when there are none). */
export function span(
  values: number[],
  show: (n: number) => string = (n) => n.toFixed(1),
  unit = '',
): string {
  if (values.length === 0) return '–';
  const lo = show(Math.min(...values));
  const hi = show(Math.max(...values));
  return lo === hi ? `${lo}${unit}` : `${lo}–${hi}${unit}`;
}

/** A rate: whole numbers from 100, one decimal below. */
export function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : (Math.round(n * 10) / 10).toFixed(1);
}

/** 1 234 with a thin space, as the docs print thousands. */
export function num(n: number): string {
  const r = Math.round(n);
  return Math.abs(r) >= 1000 ? r.toLocaleString('en-US').replace(/,/g, ' ') : String(r);
}

/** A duration: milliseconds below a second, seconds with two decimals from there. */
export const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);

/** A range of durations in one unit where both ends share it ("40–57 ms", "1.20–3.90 s", "812 ms–1.20 s"). */
export function spanMs(values: number[]): string {
  if (values.length === 0) return '–';
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (hi < 1000) return span(values, (n) => String(Math.round(n)), ' ms');
  if (lo >= 1000) return span(values, (n) => (n / 1000).toFixed(2), ' s');
  return `${ms(lo)}–${ms(hi)}`;
}
