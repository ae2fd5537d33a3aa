/**
 * The latency histogram of a run's cells: how the replies' latencies spread, per variant, on log
 * bins (charts.ts places it among the others).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { CellResult } from '../shapes/results.ts';
import type { Chart } from './chart.ts';

/** Log-spaced histogram edges from 1 ms, ten per decade: 1, 1.26, 1.58, 2, 2.5, … */
function logEdges(maxMs: number): number[] {
  const edges = [1];
  while ((edges[edges.length - 1] as number) < maxMs)
    edges.push((edges[edges.length - 1] as number) * 10 ** 0.1);
  return edges;
}

/**
 * How the replies' latencies (from intended) spread, per variant: the share of requests in each
 * log-spaced bin, a panel per request count. Where the percentiles give five numbers, this shows
 * the shape: one mode, two (a queue that formed), a long tail.
 */
export function histogramChart(
  cells: CellResult[],
  colors: { domain: string[]; range: string[] },
  order: string[],
): Chart {
  const rows: Array<Record<string, unknown>> = [];
  for (const c of cells) {
    if (!c.samples || c.repeat !== 1) continue;
    const latencies = c.samples.endMs
      .map((end, i) => end - (c.samples!.intendedMs[i] as number))
      .filter((v, i) => Number.isFinite(v) && c.samples!.status[i] !== 0);
    if (latencies.length === 0) continue;
    const edges = logEdges(Math.max(...latencies));
    const counts = new Array<number>(edges.length).fill(0);
    for (const v of latencies) {
      const k = Math.max(
        0,
        Math.min(edges.length - 1, Math.floor(Math.log10(Math.max(1, v)) / 0.1)),
      );
      counts[k] = (counts[k] as number) + 1;
    }
    counts.forEach((n, k) => {
      if (n > 0 || (counts[k - 1] ?? 0) > 0 || (counts[k + 1] ?? 0) > 0)
        rows.push({
          variant: c.label,
          requests: String(c.requests),
          fromMs: Math.round((edges[k] as number) * 100) / 100,
          share: Math.round((n / latencies.length) * 10000) / 100,
        });
    });
  }
  return {
    id: 'latency-histogram',
    title: 'How the latencies spread (histogram)',
    explain:
      'Share of the replies (%) whose latency from intended falls in each bin, on a log scale of 10 bins per decade, a panel per request count. A second hump is a queue that formed; a long right tail is the p99 and max.',
    points: rows.length,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      data: { values: rows },
      facet: {
        field: 'requests',
        type: 'ordinal',
        title: 'requests over the window',
        sort: order,
      },
      columns: 2,
      resolve: { scale: { x: 'shared', y: 'shared' } },
      spec: {
        width: 440,
        height: 170,
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5, point: { size: 12 } },
        encoding: {
          x: {
            field: 'fromMs',
            type: 'quantitative',
            title: 'latency from intended (ms, log)',
            scale: { type: 'log' },
          },
          y: { field: 'share', type: 'quantitative', title: 'share of replies (%)' },
          color: { field: 'variant', type: 'nominal', scale: colors },
        },
      },
    } as TopLevelSpec,
  };
}
