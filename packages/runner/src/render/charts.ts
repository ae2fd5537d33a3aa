/**
 * The report's charts: Vega-Lite specifications built from a loaded run (response times per
 * request count, percentiles, delivery lag, the server's own series, the breaking points), each
 * rendered to SVG in Node and written to charts/.
 */
import path from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { LatencySummary } from '@mailbench/loadgen';
import { subjectRank } from '../config/subjects.ts';
import { writeText } from '../results/files.ts';
import type { LoadedRun } from '../results/load.ts';
import type { CellResult } from '../shapes/results.ts';
import { presentationOf } from '../summary/presentation.ts';
import { isTwinLabel } from '../config/scenario.ts';
import { breakingPointCharts } from './bp-charts.ts';
import { histogramChart } from './histogram.ts';
import type { Chart } from './chart.ts';
import { narrowSpec } from './narrow.ts';

/** The cells' labels in the registry's order, each A/A twin after its variant. */
function labelOrder(cells: CellResult[]): string[] {
  const rank = (c: CellResult) => subjectRank(c.variant) * 2 + (c.label === c.variant ? 0 : 1);
  return [...new Map([...cells].sort((a, b) => rank(a) - rank(b)).map((c) => [c.label, c])).keys()];
}

/**
 * The request counts as facet values, in numeric order (as text they would sort 1000 before 750).
 */
function requestOrder(cells: CellResult[]): string[] {
  return [...new Set(cells.map((c) => c.requests))].sort((a, b) => a - b).map(String);
}

/** A colour halfway to white: an A/A twin's shade of its variant's colour. */
export function lighter(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const mix = (c: number) => Math.round(c + (255 - c) * 0.5);
  const rgb = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map(mix);
  return `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Each label in its variant's colour; an A/A twin in a lighter shade of it. */
function colorScaleOf(cells: CellResult[]) {
  const cellOf = new Map(cells.map((c) => [c.label, c]));
  const domain = labelOrder(cells);
  return {
    domain,
    range: domain.map((label) => {
      const c = cellOf.get(label) as CellResult;
      const color = presentationOf(c.variant).color;
      return isTwinLabel(label, c.variant, c.factor ?? null) ? lighter(color) : color;
    }),
  };
}

/**
 * Per-second mean latency over the run's elapsed time, per variant, from intended and from send:
 * one chart, a row per request count on shared axes, so the rates compare at a glance.
 */
function responseTimeChart(cells: CellResult[]): Chart {
  const rows: Array<Record<string, unknown>> = [];
  for (const c of cells) {
    if (!c.samples || c.repeat !== 1) continue;
    const buckets = new Map<number, { intended: number[]; send: number[] }>();
    c.samples.intendedMs.forEach((intended, i) => {
      const second = Math.floor(intended / 1000);
      const b = buckets.get(second) ?? { intended: [], send: [] };
      b.intended.push((c.samples!.endMs[i] as number) - intended);
      b.send.push((c.samples!.endMs[i] as number) - (c.samples!.sentMs[i] as number));
      buckets.set(second, b);
    });
    const avg = (v: number[]) => Math.round((v.reduce((x, y) => x + y, 0) / v.length) * 10) / 10;
    for (const [second, b] of buckets) {
      for (const [measure, values] of [
        ['from intended', b.intended],
        ['from send', b.send],
      ] as const)
        rows.push({
          variant: c.label,
          requests: String(c.requests),
          elapsedSec: second,
          latencyMs: Math.max(0.1, avg(values)),
          measure,
        });
    }
  }
  return {
    id: 'response-time',
    title: 'Response time over the run, a row per request count',
    explain:
      "Mean latency of the requests due in each second of the schedule (like JMeter's response-time graph), a row per request count on shared axes. Solid: from the intended start; dashed: from the send. A line that climbs means the server fell behind and requests queued.",
    points: rows.length,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      data: { values: rows },
      facet: {
        row: {
          field: 'requests',
          type: 'ordinal',
          title: 'requests over the window',
          sort: requestOrder(cells),
        },
      },
      resolve: { scale: { x: 'shared', y: 'shared' } },
      spec: {
        width: 1000,
        height: 130,
        mark: { type: 'line', point: { size: 10 }, strokeWidth: 1.5 },
        encoding: {
          x: { field: 'elapsedSec', type: 'quantitative', title: 'elapsed (s, by intended start)' },
          y: {
            field: 'latencyMs',
            type: 'quantitative',
            title: 'latency (ms, log)',
            scale: { type: 'log' },
          },
          color: { field: 'variant', type: 'nominal', scale: colorScaleOf(cells) },
          strokeDash: {
            field: 'measure',
            type: 'nominal',
            title: 'measured',
            scale: {
              domain: ['from intended', 'from send'],
              range: [
                [1, 0],
                [6, 4],
              ],
            },
            legend: {
              symbolType: 'stroke',
              symbolSize: 400,
              symbolStrokeWidth: 2,
              encode: { symbols: { update: { stroke: { value: '#444' } } } },
            },
          },
        },
      },
    } as TopLevelSpec,
  };
}

/** Percentile dots per variant, one panel per request count, log scale. */
function percentileDots(
  cells: CellResult[],
  pick: (c: CellResult) => LatencySummary | null,
  percentiles: Array<'p50' | 'p90' | 'p99' | 'max'>,
  colors: string[],
  yTitle: string,
): { rows: Array<Record<string, unknown>>; spec: TopLevelSpec } {
  const rows: Array<Record<string, unknown>> = [];
  for (const c of cells) {
    const summary = pick(c);
    if (!summary || c.repeat !== 1) continue;
    for (const p of percentiles) {
      rows.push({
        variant: c.label,
        requests: String(c.requests),
        percentile: p,
        valueMs: Math.max(0.1, summary[p]),
      });
    }
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    mark: { type: 'point', filled: true, size: 70 },
    encoding: {
      column: {
        field: 'requests',
        type: 'ordinal',
        title: 'requests over the window',
        sort: requestOrder(cells),
      },
      x: { field: 'variant', type: 'nominal', sort: labelOrder(cells), title: null },
      xOffset: { field: 'percentile', sort: percentiles },
      y: { field: 'valueMs', type: 'quantitative', title: yTitle, scale: { type: 'log' } },
      color: { field: 'percentile', type: 'ordinal', sort: percentiles, scale: { range: colors } },
      shape: { field: 'percentile', type: 'nominal', sort: percentiles },
    },
    width: Math.max(160, Math.floor(860 / Math.max(1, requestOrder(cells).length)) - 20),
    height: 210,
  } as TopLevelSpec;
  return { rows, spec };
}

function percentileChart(cells: CellResult[]): Chart {
  const { rows, spec } = percentileDots(
    cells,
    (c) => c.latencyMs?.fromIntended ?? null,
    ['p50', 'p90', 'p99', 'max'],
    ['#9ecae1', '#4292c6', '#08519c', '#08306b'],
    'latency (ms)',
  );
  return {
    id: 'percentiles',
    title: 'Latency percentiles by variant and request count',
    explain:
      'From the intended start, log scale. Each panel is one request count; for each variant the dots are p50, p90, p99 and max, left to right.',
    points: rows.length,
    spec,
  };
}

function lagChart(cells: CellResult[]): Chart {
  const { rows, spec } = percentileDots(
    cells,
    (c) => c.emails.deliveryLagMs,
    ['p50', 'p99', 'max'],
    ['#74c476', '#238b45', '#00441b'],
    'lag (ms)',
  );
  return {
    id: 'delivery-lag',
    title: 'E-mail delivery lag',
    explain:
      'From the client receiving its 201 to the SMTP sink accepting the e-mail; inline e-mails are accepted before the reply and show at the bottom (0.1 ms). Log scale; dots are p50, p99 and max.',
    points: rows.length,
    spec,
  };
}

function seriesChart(
  id: string,
  title: string,
  explain: string,
  cells: CellResult[],
  field: string,
  yTitle: string,
  value: (s: CellResult['server']['series'][number]) => number,
): Chart {
  const rows: Array<Record<string, unknown>> = [];
  for (const c of cells) {
    if (c.repeat !== 1) continue;
    for (const s of c.server.series)
      rows.push({
        variant: c.label,
        requests: String(c.requests),
        tSec: s.tSec,
        [field]: value(s),
      });
  }
  return {
    id,
    title,
    explain,
    points: rows.length,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      data: { values: rows },
      mark: { type: 'line', point: { size: 10 }, strokeWidth: 1.5 },
      encoding: {
        facet: {
          field: 'requests',
          type: 'ordinal',
          columns: 2,
          title: 'requests over the window',
          sort: requestOrder(cells),
        },
        x: { field: 'tSec', type: 'quantitative', title: 'seconds since the schedule started' },
        y: { field, type: 'quantitative', title: yTitle },
        color: { field: 'variant', type: 'nominal', scale: colorScaleOf(cells) },
      },
      width: 440,
      height: 170,
    } as TopLevelSpec,
  };
}

export function buildCharts(loaded: LoadedRun): Chart[] {
  const cells = loaded.cells.map((c) => c.result).filter((c) => c.status === 'ok');
  const charts: Chart[] = [];
  const searched = loaded.summary.breakingPoints ?? [];
  if (searched.length > 0) {
    const domain = searched.map((e) => e.label);
    charts.push(
      ...breakingPointCharts(searched, {
        domain,
        range: searched.map((e) => presentationOf(e.variant).color),
      }),
    );
  }
  if (cells.length === 0) return charts;
  charts.push(
    responseTimeChart(cells),
    histogramChart(cells, colorScaleOf(cells), requestOrder(cells)),
    percentileChart(cells),
  );
  if (cells.some((c) => c.emails.deliveryLagMs)) charts.push(lagChart(cells));
  charts.push(
    seriesChart(
      'backlog',
      'E-mail backlog over time',
      'E-mails the API held queued or in flight, read from /metrics every second.',
      cells,
      'backlog',
      'e-mails queued + in flight',
      (s) => s.emailsQueued + s.emailsInFlight,
    ),
    seriesChart(
      'event-loop',
      'Server event-loop delay over time',
      'p99 event-loop delay of the API process in each one-second window.',
      cells,
      'eventLoopP99Ms',
      'event-loop delay p99 (ms)',
      (s) => s.eventLoopP99Ms,
    ),
    seriesChart(
      'cpu',
      'Server CPU over time',
      'CPU of the API process (user + system) in each one-second window; 100% is one core.',
      cells,
      'cpuPercent',
      'CPU (% of one core)',
      (s) => s.cpuPercent,
    ),
  );
  return charts;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface RenderedChart {
  chart: Chart;
  /** The chart drawn for a wide page, also written to `file`. */
  svg: string;
  /** The same chart drawn for a narrow page (panels stacked, legends below): report.html only. */
  narrowSvg: string;
  file: string;
}

/** Renders every chart to SVG (wide and narrow) and writes the wide one to outDir/charts. */
export async function renderCharts(loaded: LoadedRun, outDir: string): Promise<RenderedChart[]> {
  const rendered: RenderedChart[] = [];
  for (const chart of buildCharts(loaded)) {
    const svg = await renderSvg(chart.spec);
    const narrowSvg = await renderSvg(narrowSpec(chart.spec));
    const file = path.join(outDir, 'charts', `${chart.id}.svg`);
    writeText(file, svg);
    rendered.push({ chart, svg, narrowSvg, file });
  }
  return rendered;
}
