/**
 * report.html: one self-contained page (no script, no network: every chart is inline SVG) and
 * one SVG file per chart in charts/. Charts are Vega-Lite specifications rendered to SVG in Node.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { LatencySummary } from '@mailbench/loadgen';
import { writeText } from '../results/files.ts';
import { parseLatency, type LatencySpec } from '@mailbench/smtp-sink';
import { presentationOf } from '../summary/presentation.ts';
import { subjectFacts, subjectRank } from '../config/subjects.ts';
import { judgeCell } from '../judge/judge.ts';
import { migrateCell } from '../results/migrate.ts';
import { evaluateThresholds } from '../judge/thresholds.ts';
import { breakingPointDefaults, scenarioDefault } from '../config/scenario.ts';
import { breakingPointCharts } from './bp-charts.ts';
import type { Chart } from './chart.ts';
import type { CapacityResult, CellResult, RunInfo, Summary, StepResult, BreakingPoint } from '../shapes/results.ts';
import { parseThreshold } from '../config/thresholds.ts';
import { LIMIT_COLUMNS, limitRow } from '../summary/breaking-points.ts';

export type { Chart } from './chart.ts';
import { buildSummary, reliabilityColumns } from '../summary/summary.ts';
import { configurationLines, rankingSentence, verdictSentences } from '../summary/verdict.ts';
import type { Subject, Threshold } from '../shapes/scenario.ts';

export interface LoadedRun {
  dir: string;
  run: RunInfo;
  cells: Array<{ file: string; result: CellResult }>;
  capacity: CapacityResult[];
  steps: Array<{ file: string; result: StepResult }>;
  summary: Summary;
}

/**
 * A file a run folder's run.json names, inside that folder: run.json is data anyone may have
 * written, so `../` and absolute paths are refused rather than followed.
 */
export function fileInRun(dir: string, file: unknown): string {
  const ok = typeof file === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*\.json$/.test(file);
  const resolved = ok ? path.resolve(dir, file) : '';
  if (!ok || !resolved.startsWith(path.resolve(dir) + path.sep)) {
    throw Object.assign(new Error(`${dir}/run.json names a result file outside its folder (${JSON.stringify(file)}); refusing to read it`), { code: 'ERR_REPORT_NOT_A_RUN' });
  }
  return resolved;
}

export function loadRun(dir: string): LoadedRun {
  const runFile = path.join(dir, 'run.json');
  if (!existsSync(runFile)) {
    throw Object.assign(new Error(`${dir} is not a mailbench run (no run.json); give a folder under results/`), { code: 'ERR_REPORT_NOT_A_RUN' });
  }
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as RunInfo;
  // Runs recorded before the latency was stored parsed keep it as text.
  // Runs recorded before sweeps, load profiles and breaking points had none of them.
  run.scenario.sweep ??= null;
  run.scenario.target ??= null;
  run.scenario.stages ??= null;
  run.scenario.breakingPoint ??= { ...breakingPointDefaults(), enabled: false };
  const latency = run.scenario.smtp.latency as LatencySpec | string;
  if (typeof latency === 'string') run.scenario.smtp.latency = parseLatency(latency);
  // Cells are judged again in memory by today's rules (the files are not rewritten).
  const thresholds = (run.scenario.thresholds ?? []).map((t: Threshold | string) => parseThreshold(typeof t === 'string' ? t : t.expr));
  const judged = { ...run.scenario, stallThresholdMs: run.scenario.stallThresholdMs ?? scenarioDefault('stallThresholdMs') };
  const cells = run.cells.map((file) => {
    const result = migrateCell(JSON.parse(readFileSync(fileInRun(dir, file), 'utf8')) as CellResult, run.scenario.faults.badInput?.share);
    const rejudged = { ...result, ...judgeCell(result, judged) };
    return { file, result: { ...rejudged, thresholds: evaluateThresholds(thresholds, rejudged) } };
  });
  const capacity = run.capacity.map((file) => JSON.parse(readFileSync(fileInRun(dir, file), 'utf8')) as CapacityResult);
  const steps = (run.steps ?? []).map((file) => ({ file, result: JSON.parse(readFileSync(fileInRun(dir, file), 'utf8')) as StepResult }));
  return { dir, run, cells, capacity, steps, summary: buildSummary(run, cells, capacity, steps) };
}

/** The cells' labels in the registry's order, each A/A twin after its variant. */
function labelOrder(cells: CellResult[]): string[] {
  const rank = (c: CellResult) => subjectRank(c.variant) * 2 + (c.label === c.variant ? 0 : 1);
  return [...new Map([...cells].sort((a, b) => rank(a) - rank(b)).map((c) => [c.label, c])).keys()];
}

/** The request counts as facet values, in numeric order (as text they would sort 1000 before 750). */
function requestOrder(cells: CellResult[]): string[] {
  return [...new Set(cells.map((c) => c.requests))].sort((a, b) => a - b).map(String);
}

/** Each label in its variant's colour (an A/A twin shares it). */
function colorScaleOf(cells: CellResult[]) {
  const variantOf = new Map(cells.map((c) => [c.label, c.variant]));
  const domain = labelOrder(cells);
  return { domain, range: domain.map((label) => presentationOf(variantOf.get(label) as Subject).color) };
}

/** Per-second mean latency over the run's elapsed time, per variant, from intended and from send. */
function responseTimeChart(requests: number, cells: CellResult[]): Chart {
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
    for (const [second, b] of buckets) {
      const avg = (v: number[]) => Math.round((v.reduce((x, y) => x + y, 0) / v.length) * 10) / 10;
      rows.push({ variant: c.label, elapsedSec: second, latencyMs: Math.max(0.1, avg(b.intended)), measure: 'from intended' });
      rows.push({ variant: c.label, elapsedSec: second, latencyMs: Math.max(0.1, avg(b.send)), measure: 'from send' });
    }
  }
  return {
    id: `response-time-${requests}`,
    title: `Response time over the run, ${requests} requests`,
    explain:
      'Mean latency of the requests due in each second of the schedule (like JMeter\'s response-time graph). Solid: from the intended start; dashed: from the send. A line that climbs means the server fell behind and requests queued.',
    points: rows.length,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 1000,
      height: 260,
      data: { values: rows },
      mark: { type: 'line', point: { size: 12 }, strokeWidth: 1.5 },
      encoding: {
        x: { field: 'elapsedSec', type: 'quantitative', title: 'elapsed (s, by intended start)' },
        y: { field: 'latencyMs', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } },
        color: { field: 'variant', type: 'nominal', scale: colorScaleOf(cells) },
        strokeDash: { field: 'measure', type: 'nominal', title: 'measured', legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolStrokeColor: '#444' } },
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
      rows.push({ variant: c.label, requests: String(c.requests), percentile: p, valueMs: Math.max(0.1, summary[p]) });
    }
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    mark: { type: 'point', filled: true, size: 70 },
    encoding: {
      column: { field: 'requests', type: 'ordinal', title: 'requests over the window', sort: requestOrder(cells) },
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
  const { rows, spec } = percentileDots(cells, (c) => c.latencyMs?.fromIntended ?? null, ['p50', 'p90', 'p99', 'max'], ['#9ecae1', '#4292c6', '#08519c', '#08306b'], 'latency (ms)');
  return {
    id: 'percentiles',
    title: 'Latency percentiles by variant and request count',
    explain: 'From the intended start, log scale. Each panel is one request count; for each variant the dots are p50, p90, p99 and max, left to right.',
    points: rows.length,
    spec,
  };
}

function lagChart(cells: CellResult[]): Chart {
  const { rows, spec } = percentileDots(cells, (c) => c.emails.deliveryLagMs, ['p50', 'p99', 'max'], ['#74c476', '#238b45', '#00441b'], 'lag (ms)');
  return {
    id: 'delivery-lag',
    title: 'E-mail delivery lag',
    explain: 'From the client receiving its 201 to the SMTP sink accepting the e-mail; inline e-mails are accepted before the reply and show at the bottom (0.1 ms). Log scale; dots are p50, p99 and max.',
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
    for (const s of c.server.series) rows.push({ variant: c.label, requests: String(c.requests), tSec: s.tSec, [field]: value(s) });
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
        facet: { field: 'requests', type: 'ordinal', columns: 2, title: 'requests over the window', sort: requestOrder(cells) },
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
    charts.push(...breakingPointCharts(searched, { domain, range: searched.map((e) => presentationOf(e.variant).color) }));
  }
  for (const requests of loaded.run.scenario.requests) {
    const group = cells.filter((c) => c.requests === requests);
    if (group.length > 0) charts.push(responseTimeChart(requests, group));
  }
  if (cells.length === 0) return charts;
  charts.push(percentileChart(cells));
  if (cells.some((c) => c.emails.deliveryLagMs)) charts.push(lagChart(cells));
  charts.push(
    seriesChart('backlog', 'E-mail backlog over time', 'E-mails the API held queued or in flight, read from /metrics every second.', cells, 'backlog', 'e-mails queued + in flight', (s) => s.emailsQueued + s.emailsInFlight),
    seriesChart('event-loop', 'Server event-loop delay over time', 'p99 event-loop delay of the API process in each one-second window.', cells, 'eventLoopP99Ms', 'event-loop delay p99 (ms)', (s) => s.eventLoopP99Ms),
    seriesChart('cpu', 'Server CPU over time', 'CPU of the API process (user + system) in each one-second window; 100% is one core.', cells, 'cpuPercent', 'CPU (% of one core)', (s) => s.cpuPercent),
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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function summaryTable(summary: Summary, run: RunInfo): string {
  const out: string[] = [];
  const n = (v: number | null, censored = false) => (v === null ? '–' : `${censored ? '≥ ' : ''}${v.toFixed(0)}`);
  for (const requests of run.scenario.requests) {
    const rows = summary.rows.filter((r) => r.requests === requests);
    if (rows.length === 0) continue;
    out.push(`<h3>${requests} requests over ${run.scenario.durationSec} s (${(requests / run.scenario.durationSec).toFixed(1)}/s)</h3>`);
    out.push(
      '<table><thead><tr><th>variant</th><th>avg from send</th><th>avg from intended</th><th>p50</th><th>p99</th><th>max</th><th>errors</th>' +
        '<th>e-mails delivered / owed</th><th>failed</th><th>lost</th><th>dup.</th><th>lag p99</th><th>backlog max</th><th>valid</th><th>reference avg, ms (other stack)</th></tr></thead><tbody>',
    );
    for (const r of rows) {
      const c = r.timeouts > 0;
      const range = r.avgFromSendRangeMs ? ` (${n(r.avgFromSendRangeMs[0])}–${n(r.avgFromSendRangeMs[1])})` : '';
      out.push(
        `<tr class="${r.valid ? '' : 'invalid'}"><td>${r.label}</td><td>${n(r.avgFromSendMs, c)}${range}</td><td>${n(r.avgFromIntendedMs, c)}</td><td>${n(r.p50Ms, c)}</td>` +
          `<td>${n(r.p99Ms, c)}</td><td>${n(r.maxMs, c)}</td><td>${r.errors}${r.timeouts ? ` (${r.timeouts} timeouts)` : ''}</td><td>${!subjectFacts(r.variant).sendsMail ? '–' : `${r.emailsDelivered} / ${r.emailsExpected}`}</td>` +
          `<td>${r.emailsFailed + r.emailsFailedButDeliveredLater}</td><td>${r.emailsLost}</td><td>${r.emailsDuplicated}</td><td>${n(r.deliveryLagP99Ms)}</td><td>${n(r.backlogMax)}</td><td>${r.valid ? 'yes' : 'no'}</td>` +
          `<td>${r.reference ? `${escapeHtml(r.reference.label)} ${r.reference.avgMs}` : ''}</td></tr>`,
      );
    }
    out.push('</tbody></table>');
    if (rows.length > 1) out.push(`<p class="note">${escapeHtml(rankingSentence(summary.rankings.find((k) => k.requests === requests)))}</p>`);
  }
  return out.join('\n');
}

function reliabilityTable(summary: Summary): string {
  const columns = reliabilityColumns(summary);
  const rows = summary.reliability.map((r) => `<tr>${columns.map(([, cell]) => `<td>${escapeHtml(cell(r))}</td>`).join('')}</tr>`).join('');
  return (
    '<p class="note">Each owed e-mail (one per 201) ends in exactly one of: delivered, failed (reported by the server, never arrived), failed but delivered later, lost (never arrived, never reported). "duplicated" counts extra copies, "not owed" e-mails of sign-ups whose reply failed, "stray users" users stored without a 2xx reply.</p>' +
    `<table><thead><tr>${columns.map(([title]) => `<th>${escapeHtml(title)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`
  );
}

/** Renders every chart to SVG and writes it to outDir/charts. */
async function renderCharts(loaded: LoadedRun, outDir: string): Promise<Array<{ chart: Chart; svg: string; file: string }>> {
  const rendered: Array<{ chart: Chart; svg: string; file: string }> = [];
  for (const chart of buildCharts(loaded)) {
    const svg = await renderSvg(chart.spec);
    const file = path.join(outDir, 'charts', `${chart.id}.svg`);
    writeText(file, svg);
    rendered.push({ chart, svg, file });
  }
  return rendered;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{margin-bottom:.3em}
nav ol{columns:2;padding-left:1.2em}#verdict li{margin:.3em 0}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
tr.invalid td{background:#fff0f0}.chart{margin:1em 0 2em}.chart svg{max-width:100%;height:auto}
.note{color:#555}.warn{color:#a00;font-weight:bold}code{background:#f4f4f4;padding:0 3px}`;

function breakingPointsTable(entries: BreakingPoint[]): string {
  const head = `<tr>${[...LIMIT_COLUMNS, 'model checks over 20 %'].map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const rows = entries.map((e) => {
    const cells = [...limitRow(e), `${e.checks.filter((c) => c.flagged).length} of ${e.checks.length}`];
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<p class="note">Every step, and each model check with its explanation, is in summary.md.</p><table>${head}${rows.join('')}</table>`;
}

function listHtml(items: string[]): string {
  return `<ul>${items.map((i) => `<li>${escapeHtml(i).replace(/`([^`]+)`/g, '<code>$1</code>')}</li>`).join('')}</ul>`;
}

function findingsHtml(summary: Summary): string {
  const list = (cells: Summary['invalidCells']) => `<ul>${cells.map((c) => `<li><code>${escapeHtml(c.file)}</code>: ${escapeHtml(c.reasons.join('; '))}</li>`).join('')}</ul>`;
  const invalid = summary.invalidCells.length
    ? `<p>"measurement:" reasons mean the figures of the cell cannot be trusted.</p>${list(summary.invalidCells)}`
    : '<p>Every cell is valid: every request has its sample, the generator kept its schedule, no latency was cut off by a timeout, every owed e-mail was accounted for and the accounting adds up.</p>';
  const system = summary.findings.length ? `<h3>What the system did (valid cells)</h3>${list(summary.findings)}` : '';
  return invalid + system;
}

/**
 * Writes report.html and charts/*.svg for the run in runDir, into outDir (by default the run's
 * own folder, as pnpm bench does; pnpm report writes elsewhere). The same run gives the same bytes.
 */
export async function writeReport(runDir: string, outDir = runDir): Promise<{ html: string; charts: string[] }> {
  const loaded = loadRun(runDir);
  const { run, summary } = loaded;
  const rendered = await renderCharts(loaded, outDir);
  const versions = Object.entries(run.versions)
    .map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(v)}`)
    .join(', ');
  const sections: Array<[string, string]> = [
    ['verdict', 'Verdict'],
    ['configuration', 'What ran'],
    ...rendered.map(({ chart }): [string, string] => [chart.id, chart.title]),
    ...(summary.breakingPoints?.length ? [['breaking-points', 'Breaking points'] as [string, string]] : []),
    ['summary', 'Summary tables'],
    ['reliability', 'Reliability'],
    ['validity', 'Validity and findings'],
    ['machine', 'Machine and versions'],
  ];
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailbench report: ${escapeHtml(run.scenarioName)} ${escapeHtml(run.runId)}</title>
<style>
${STYLE}
</style></head><body>
<h1>mailbench: ${escapeHtml(run.scenarioName)}</h1>
${run.complete ? '' : '<p class="warn">This run is incomplete (interrupted): only the cells below were measured.</p>'}
<section id="verdict"><h2>Verdict</h2>
${listHtml(verdictSentences(summary, run))}
</section>
<section id="configuration"><h2>What ran</h2>
${listHtml(configurationLines(run))}
</section>
<nav><h2>Contents</h2><ol>${sections.map(([id, title]) => `<li><a href="#${id}">${escapeHtml(title)}</a></li>`).join('')}</ol></nav>
<h2>Charts</h2>
${rendered
  .map(
    ({ chart, svg }) =>
      `<section class="chart" id="${chart.id}" data-points="${chart.points}"><h3>${escapeHtml(chart.title)}</h3><p class="note">${escapeHtml(chart.explain)}</p>\n${svg}\n</section>`,
  )
  .join('\n')}

${summary.breakingPoints?.length ? `<section id="breaking-points"><h2>Breaking points</h2>\n${breakingPointsTable(summary.breakingPoints)}\n</section>\n` : ''}
<section id="summary"><h2>Summary tables</h2>
<p class="note">Latency in ms: the median over the repeats, with their range in brackets. <b>from send</b> is what JMeter reports; <b>from intended</b> starts when the request was due, so queueing in a slow server stays visible (p50/p99/max are from intended). "≥": requests hit the client's timeout, the figure is a lower bound.</p>
${summaryTable(summary, run)}
<p class="note">${escapeHtml(summary.referenceNote)}</p>
</section>

<section id="reliability"><h2>Reliability</h2>
${reliabilityTable(summary)}
</section>

<section id="validity"><h2>Validity and findings</h2>
${findingsHtml(summary)}
</section>

<section id="machine"><h2>Machine and versions</h2>
<p class="note">Run <code>${escapeHtml(run.runId)}</code>, ${escapeHtml(run.startedAt)} to ${escapeHtml(run.endedAt ?? '?')}.
Machine: ${escapeHtml(run.machine.cpuModel)}, ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB, ${escapeHtml(run.machine.platform)} ${escapeHtml(run.machine.release)}.
Database: <b>${escapeHtml(run.database.engine)}</b> ${escapeHtml(run.database.version)}. git ${escapeHtml(run.git.commit ?? 'unknown')}${run.git.dirty ? ' (dirty tree)' : ''}.</p>
<p class="note">${versions}</p>
</section>
</body></html>
`;
  const htmlFile = path.join(outDir, 'report.html');
  writeText(htmlFile, html);
  return { html: htmlFile, charts: rendered.map((r) => r.file) };
}
