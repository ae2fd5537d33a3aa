/**
 * report.html: one self-contained page (no script, no network: every chart is inline SVG) and
 * one SVG file per chart in charts/. Charts are Vega-Lite specifications rendered to SVG in Node.
 */
import path from 'node:path';
import { writeText } from '../results/files.ts';
import { LIMIT_COLUMNS, limitRow, STEP_COLUMNS, stepRows } from '../summary/breaking-points.ts';
import type { LoadedRun } from '../results/load.ts';
import { renderCharts } from './charts.ts';
import { NARROW_BREAK } from './narrow.ts';
import type { RunInfo, Summary, BreakingPoint } from '../shapes/run.ts';
import { reliabilityColumns } from '../summary/reliability.ts';

export type { Chart } from './chart.ts';
import { rankingSentence } from '../summary/verdict.ts';
import { columnsFor } from '../summary/columns.ts';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function summaryTable(summary: Summary, run: RunInfo): string {
  const out: string[] = [];
  for (const requests of run.scenario.requests) {
    const rows = summary.rows.filter((r) => r.requests === requests);
    if (rows.length === 0) continue;
    const columns = columnsFor(rows);
    const head = columns.map((c) => `<th>${escapeHtml(c.title)}</th>`).join('');
    out.push(
      `<h3>${requests} requests over ${run.scenario.durationSec} s (${(requests / run.scenario.durationSec).toFixed(1)}/s)</h3>`,
    );
    out.push(`<table><thead><tr>${head}</tr></thead><tbody>`);
    for (const r of rows) {
      const cells = columns.map((c) => `<td>${escapeHtml(c.cell(r))}</td>`).join('');
      out.push(`<tr class="${r.valid ? '' : 'invalid'}">${cells}</tr>`);
    }
    out.push('</tbody></table>');
    if (rows.length > 1)
      out.push(
        `<p class="note">${escapeHtml(
          rankingSentence(
            summary.rankings.find((k) => k.requests === requests),
            rows.length,
          ),
        )}</p>`,
      );
  }
  return out.join('\n');
}

function reliabilityTable(summary: Summary): string {
  const columns = reliabilityColumns(summary);
  const rows = summary.reliability
    .map((r) => `<tr>${columns.map(([, cell]) => `<td>${escapeHtml(cell(r))}</td>`).join('')}</tr>`)
    .join('');
  return (
    '<p class="note">Each owed e-mail (one per 201) ends in exactly one of: delivered, failed (reported by the server, never arrived), failed but delivered later, lost (never arrived, never reported). "duplicated" counts extra copies, "not owed" e-mails of sign-ups whose reply failed, "stray users" users stored without a 2xx reply.</p>' +
    `<table><thead><tr>${columns.map(([title]) => `<th>${escapeHtml(title)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`
  );
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{margin-bottom:.3em}
nav ol{columns:2;padding-left:1.2em}#verdict li{margin:.3em 0}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-variant-numeric:tabular-nums;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
tr.invalid td{background:#fff0f0}.chart{margin:1em 0 2em}.chart svg{max-width:100%;height:auto}
.note{color:#555}.warn{color:#a00;font-weight:bold}code{background:#f4f4f4;padding:0 3px}
@media (max-width:700px){body{font-size:13px;margin:1em auto}nav ol{columns:1}}
@media (max-width:${NARROW_BREAK - 1}px){.chart .wide{display:none}}
@media (min-width:${NARROW_BREAK}px){.chart .narrow{display:none}}`;

function breakingPointsTable(entries: BreakingPoint[]): string {
  const head = `<tr>${[...LIMIT_COLUMNS, 'model checks over 20 %'].map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const rows = entries.map((e) => {
    const cells = [
      ...limitRow(e),
      `${e.checks.filter((c) => c.flagged).length} of ${e.checks.length}`,
    ];
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  const steps = entries.map(
    (e) =>
      `<h3>${escapeHtml(e.label)}: its steps</h3><table><thead><tr>${STEP_COLUMNS.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${stepRows(
        e,
      )
        .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`,
  );
  return `<table>${head}${rows.join('')}</table>\n${steps.join('\n')}\n<p class="note">Each model check, with its explanation, is in summary.md.</p>`;
}

function listHtml(items: string[]): string {
  return `<ul>${items.map((i) => `<li>${escapeHtml(i).replace(/`([^`]+)`/g, '<code>$1</code>')}</li>`).join('')}</ul>`;
}

/** What the steps of a breaking-point search say about their own validity. */
function stepValidityHtml(entries: BreakingPoint[]): string {
  const steps = entries.flatMap((e) => e.steps);
  const behind = steps.filter((st) => st.generatorLimited).length;
  const failed = steps.filter((st) => st.status === 'failed').length;
  const retried = entries.reduce((a, e) => a + (e.retries ?? 0), 0);
  if (behind + failed === 0)
    return `<p>Every one of the ${steps.length} breaking-point steps is valid: the generator kept each schedule and every step ran to its end${retried ? ` (${retried} disturbed attempts were measured again)` : ''}.</p>`;
  return `<p>Of ${steps.length} breaking-point steps, ${behind} had a generator that fell behind (measured again up to twice; they count neither as a pass nor a failure) and ${failed} did not run to their end; the steps tables above mark them.</p>`;
}

function findingsHtml(summary: Summary): string {
  const list = (cells: Summary['invalidCells']) =>
    `<ul>${cells.map((c) => `<li><code>${escapeHtml(c.file)}</code>: ${escapeHtml(c.reasons.join('; '))}</li>`).join('')}</ul>`;
  const cellsRan = summary.rows.length > 0 || summary.invalidCells.length > 0;
  const steps = summary.breakingPoints?.length ? stepValidityHtml(summary.breakingPoints) : '';
  if (!cellsRan) return steps;
  const invalid = summary.invalidCells.length
    ? `<p>"measurement:" reasons mean the figures of the cell cannot be trusted.</p>${list(summary.invalidCells)}`
    : '<p>Every cell is valid: every request has its sample, the generator kept its schedule, no latency was cut off by a timeout, every owed e-mail was accounted for and the accounting adds up.</p>';
  const system = summary.findings.length
    ? `<h3>What the system did (valid cells)</h3>${list(summary.findings)}`
    : '';
  return invalid + system + steps;
}

/** The summary and reliability tables: for runs with cells (a breaking-point run has none). */
function cellSections(summary: Summary, run: RunInfo): string {
  return `<section id="summary"><h2>Summary tables</h2>
<p class="note">Latency in ms: the median over the repeats, with their range in brackets. <b>from send</b> is what JMeter reports; <b>from intended</b> starts when the request was due, so queueing in a slow server stays visible (p50/p99/max are from intended). "≥": requests hit the client's timeout, the figure is a lower bound.</p>
${summaryTable(summary, run)}
<p class="note">${escapeHtml(summary.referenceNote)}</p>
</section>

<section id="reliability"><h2>Reliability</h2>
${reliabilityTable(summary)}
</section>
`;
}

/**
 * Writes report.html and charts/*.svg for the run in runDir, into outDir (by default the run's
 * own folder, as pnpm bench does; pnpm report writes elsewhere). The same run gives the same bytes.
 */
/**
 * report.html and charts/ in `outDir` (the run's own folder by default), from a loaded run: nothing
 * is judged or summed again.
 */
export async function writeReport(
  loaded: LoadedRun,
  outDir = loaded.dir,
): Promise<{ html: string; charts: string[] }> {
  const { run, summary } = loaded;
  const rendered = await renderCharts(loaded, outDir);
  const cellsRan = summary.rows.length > 0 || summary.invalidCells.length > 0;
  const versions = Object.entries(run.versions)
    .map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(v)}`)
    .join(', ');
  const sections: Array<[string, string]> = [
    ['verdict', 'Verdict'],
    ['configuration', 'What ran'],
    ...rendered.map(({ chart }): [string, string] => [chart.id, chart.title]),
    ...(summary.breakingPoints?.length
      ? [['breaking-points', 'Breaking points'] as [string, string]]
      : []),
    ...(cellsRan
      ? ([
          ['summary', 'Summary tables'],
          ['reliability', 'Reliability'],
        ] as Array<[string, string]>)
      : []),
    ['validity', 'Validity and findings'],
    ['machine', 'Machine and versions'],
  ];
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>mailbench report: ${escapeHtml(run.scenarioName)} ${escapeHtml(run.runId)}</title>
<style>
${STYLE}
</style></head><body>
<h1>mailbench: ${escapeHtml(run.scenarioName)}</h1>
${run.complete ? '' : '<p class="warn">This run is incomplete (interrupted): only the cells below were measured.</p>'}
<section id="verdict"><h2>Verdict</h2>
${listHtml(summary.verdict)}
</section>
<section id="configuration"><h2>What ran</h2>
${listHtml(summary.configuration)}
</section>
<nav><h2>Contents</h2><ol>${sections.map(([id, title]) => `<li><a href="#${id}">${escapeHtml(title)}</a></li>`).join('')}</ol></nav>
<h2>Charts</h2>
${rendered
  .map(
    ({ chart, svg, narrowSvg }) =>
      `<section class="chart" id="${chart.id}" data-points="${chart.points}"><h3>${escapeHtml(chart.title)}</h3><p class="note">${escapeHtml(chart.explain)}</p>\n<div class="wide">${svg}</div>\n<div class="narrow">${narrowSvg}</div>\n</section>`,
  )
  .join('\n')}

${summary.breakingPoints?.length ? `<section id="breaking-points"><h2>Breaking points</h2>\n${breakingPointsTable(summary.breakingPoints)}\n</section>\n` : ''}
${cellsRan ? cellSections(summary, run) : ''}
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
