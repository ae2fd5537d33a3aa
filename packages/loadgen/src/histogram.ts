import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './types.ts';

const EMPTY: LatencySummary = {
  count: 0,
  mean: 0,
  p50: 0,
  p75: 0,
  p90: 0,
  p95: 0,
  p99: 0,
  p999: 0,
  max: 0,
  min: 0,
};

/**
 * HdrHistogram summary of millisecond values, recorded at microsecond resolution with
 * 3 significant digits (values up to one hour). Negative values are clamped to 0.
 */
export function summarize(valuesMs: ArrayLike<number>): LatencySummary {
  if (valuesMs.length === 0) return { ...EMPTY };
  const histogram = hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (let k = 0; k < valuesMs.length; k++) {
    const v = Math.max(0, valuesMs[k] as number);
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    histogram.recordValue(Math.max(1, Math.round(v * 1000)));
  }
  // The histogram reports a bucket's upper edge; never above the true maximum.
  const at = (p: number) => Math.min(round(max), round(histogram.getValueAtPercentile(p) / 1000));
  const summary: LatencySummary = {
    count: valuesMs.length,
    // Mean and extremes from the raw values; percentiles from the histogram (within 0.1 %).
    mean: round(sum / valuesMs.length),
    p50: at(50),
    p75: at(75),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    max: round(max),
    min: round(min),
  };
  histogram.destroy();
  return summary;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
