/**
 * The breaking-point charts: latency against offered rate (the "hockey stick"), and e-mail
 * delivered against offered rate, one line per label, the SLO and the model drawn beside them.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Chart } from './chart.ts';
import type { BreakingPoint } from '../shapes/run.ts';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * The points of both charts: each step's p99 and mean latency, and the e-mails it delivered per
 * second.
 */
function stepPoints(entries: BreakingPoint[]): {
  latency: Array<Record<string, unknown>>;
  mail: Array<Record<string, unknown>>;
} {
  const latency: Array<Record<string, unknown>> = [];
  const mail: Array<Record<string, unknown>> = [];
  for (const e of entries) {
    for (const st of [...e.steps].sort((a, b) => a.ratePerSec - b.ratePerSec)) {
      if (st.status !== 'ok' || st.p99Ms === null) continue;
      // Repeated searches: one line per search, so that their steps do not zigzag into one.
      const search = Number(/\/r(\d+)\//.exec(st.file)?.[1] ?? 1);
      const limit = e.httpMaxRatePerSec;
      latency.push({
        label: e.label,
        search,
        limit,
        ratePerSec: st.ratePerSec,
        latencyMs: Math.max(0.1, st.p99Ms),
        measure: 'p99',
        note: st.generatorLimited
          ? 'generator behind'
          : st.httpOk
            ? 'met the SLO'
            : 'broke the SLO',
      });
      if (st.meanMs !== null)
        latency.push({
          label: e.label,
          search,
          limit,
          ratePerSec: st.ratePerSec,
          latencyMs: Math.max(0.1, st.meanMs),
          measure: 'mean',
          note: '',
        });
      if (st.deliveredRatePerSec !== null)
        mail.push({
          label: e.label,
          ratePerSec: st.ratePerSec,
          deliveredPerSec: st.deliveredRatePerSec,
          measure: 'measured',
        });
    }
  }
  return { latency, mail };
}

/**
 * Small multiples: a panel per label on shared axes, p99 solid and mean dashed (the legend draws
 * both strokes), the SLO as a grey rule and the HTTP limit found as the label's own vertical rule,
 * so that each variant's knee reads on its own instead of in a bundle of lines.
 */
function latencyChart(latency: Array<Record<string, unknown>>, slo: number, colors: Colors): Chart {
  const labels = new Set(latency.map((p) => p.label as string)).size;
  return {
    id: 'breaking-point-latency',
    title: 'Latency against offered rate (breaking points), a panel per variant',
    explain: `p99 (solid) and mean (dashed) latency from intended at each step's offered rate, a line per search. The grey dashed rule is the SLO (p99 ≤ ${slo} ms); the vertical rule in the variant's colour is the HTTP limit found (the median of its searches). Hollow points: steps where the generator fell behind.`,
    points: latency.length,
    spec: {
      $schema: SCHEMA,
      data: { values: latency },
      columns: Math.min(labels, 3),
      facet: { field: 'label', type: 'nominal', title: null, sort: colors.domain },
      resolve: { scale: { x: 'shared', y: 'shared' } },
      spec: {
        width: 300,
        height: 190,
        layer: [
          {
            mark: { type: 'line', point: { size: 25 }, strokeWidth: 1.5 },
            encoding: {
              x: {
                field: 'ratePerSec',
                type: 'quantitative',
                title: 'offered sign-ups per second',
                scale: { type: 'log', nice: false },
              },
              y: {
                field: 'latencyMs',
                type: 'quantitative',
                title: 'latency from intended (ms, log)',
                scale: { type: 'log' },
              },
              color: { field: 'label', type: 'nominal', scale: colors, legend: null },
              detail: { field: 'search', type: 'nominal' },
              strokeDash: {
                field: 'measure',
                type: 'nominal',
                title: 'latency',
                scale: {
                  domain: ['p99', 'mean'],
                  range: [
                    [1, 0],
                    [6, 4],
                  ],
                },
                legend: {
                  orient: 'top',
                  symbolType: 'stroke',
                  symbolSize: 400,
                  symbolStrokeWidth: 2,
                  encode: { symbols: { update: { stroke: { value: '#444' } } } },
                },
              },
            },
          },
          {
            transform: [{ filter: "datum.note === 'generator behind'" }],
            mark: { type: 'point', filled: true, fill: 'white', size: 60, strokeWidth: 2 },
            encoding: {
              x: { field: 'ratePerSec', type: 'quantitative' },
              y: { field: 'latencyMs', type: 'quantitative' },
              stroke: { field: 'label', type: 'nominal', scale: colors, legend: null },
            },
          },
          {
            mark: { type: 'rule', color: '#888', strokeDash: [2, 2] },
            encoding: { y: { datum: slo, type: 'quantitative' } },
          },
          {
            transform: [{ filter: 'datum.limit !== null' }],
            mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.7 },
            encoding: {
              x: { aggregate: 'max', field: 'limit', type: 'quantitative' },
              color: { field: 'label', type: 'nominal', scale: colors, legend: null },
            },
          },
        ],
      },
    } as TopLevelSpec,
  };
}

function mailChart(
  entries: BreakingPoint[],
  mail: Array<Record<string, unknown>>,
  colors: Colors,
): Chart {
  const diagonal = [...new Set(mail.map((m) => m.ratePerSec as number))]
    .sort((a, b) => a - b)
    .map((r) => ({ ratePerSec: r, deliveredPerSec: r }));
  const model = entries
    .filter((e) => e.predicted.mailRatePerSec !== null)
    .map((e) => ({ label: e.label, modelPerSec: e.predicted.mailRatePerSec }));
  return {
    id: 'breaking-point-mail',
    title: 'E-mail delivered against offered rate (breaking points)',
    explain:
      'E-mails the sink accepted per second in the second half of each step, against the offered sign-up rate. On the grey diagonal every owed e-mail keeps up; where a line leaves it, the backlog grows by the difference each second. Dotted rules: the model c/L per label.',
    points: mail.length,
    spec: {
      $schema: SCHEMA,
      width: 1000,
      height: 300,
      layer: [
        {
          data: { values: diagonal },
          mark: { type: 'line', color: '#bbb', strokeDash: [4, 3] },
          encoding: {
            x: { field: 'ratePerSec', type: 'quantitative' },
            y: { field: 'deliveredPerSec', type: 'quantitative' },
          },
        },
        {
          data: { values: mail },
          mark: { type: 'line', point: { size: 30 }, strokeWidth: 1.5 },
          encoding: {
            x: {
              field: 'ratePerSec',
              type: 'quantitative',
              title: 'offered sign-ups per second',
            },
            y: {
              field: 'deliveredPerSec',
              type: 'quantitative',
              title: 'e-mails accepted per second',
            },
            color: { field: 'label', type: 'nominal', scale: colors, title: 'variant' },
          },
        },
        ...(model.length > 0
          ? [
              {
                data: { values: model },
                mark: { type: 'rule' as const, strokeDash: [1, 3], strokeWidth: 1.5 },
                encoding: {
                  y: { field: 'modelPerSec', type: 'quantitative' as const },
                  color: {
                    field: 'label',
                    type: 'nominal' as const,
                    scale: colors,
                    legend: null,
                  },
                },
              },
            ]
          : []),
      ],
    } as TopLevelSpec,
  };
}

type Colors = { domain: string[]; range: string[] };

export function breakingPointCharts(entries: BreakingPoint[], colors: Colors): Chart[] {
  const { latency, mail } = stepPoints(entries);
  const slo = entries[0]?.sloP99Ms ?? 2000;
  const charts: Chart[] = [];
  if (latency.length > 0) charts.push(latencyChart(latency, slo, colors));
  if (mail.length > 0) charts.push(mailChart(entries, mail, colors));
  return charts;
}
