/** summary.md: the run's one summary as Markdown (the verdict first, then a table per request count). */
import { describeLatency } from '@mailbench/smtp-sink';
import { columnsFor } from '../summary/columns.ts';
import type { Scenario } from '../shapes/scenario.ts';
import { measuredText, overridesOf, rankingSentence } from '../summary/verdict.ts';
import type { RunInfo, Summary } from '../shapes/run.ts';
import { renderBreakingPointsMarkdown } from '../summary/breaking-points.ts';
import { renderReliabilityMarkdown } from '../summary/reliability.ts';

/** Markdown lines: each threshold passed or failed, and by which cells. */
export function renderThresholdsMarkdown(summary: Summary): string[] {
  if (summary.thresholds.length === 0) return [];
  const lines = ['', '## Thresholds', ''];
  for (const t of summary.thresholds) {
    if (t.failed.length === 0)
      lines.push(
        `- ✓ \`${t.expr}\`: met by all ${t.cells} cells it names${t.worst ? ` (nearest to failing: ${t.worst.file}, ${measuredText(t.expr, t.worst.actual)})` : ''}`,
      );
    else {
      const which = t.failed
        .map(
          (f) =>
            `${f.file} (${f.actual === null ? '–' : measuredText(t.expr, f.actual)}${f.note ? `: ${f.note}` : ''})`,
        )
        .join(', ');
      lines.push(`- ✗ \`${t.expr}\`: FAILED by ${t.failed.length} of ${t.cells} cells: ${which}`);
    }
  }
  return lines;
}

const n = (v: number | null, digits = 0) => (v === null ? '–' : v.toFixed(digits));

/** How long each measurement lasted: the cells' windows, the search's steps, or both. */
function windowsText(s: Scenario): string {
  const parts: string[] = [];
  if (s.requests.length > 0 || s.stages) parts.push(`${s.durationSec} s windows`);
  if (s.breakingPoint?.enabled) parts.push(`${s.breakingPoint.stepSec} s breaking-point steps`);
  const repeats = s.repeats > 1 ? `, ${s.repeats} interleaved repeats` : '';
  return `${parts.join(' and ') || `${s.durationSec} s windows`}${s.quick ? ' (--quick)' : ''}${repeats}`;
}

function renderRunLine(run: RunInfo): string {
  const s = run.scenario;
  if (s.target) {
    return (
      `Run ${run.runId}; ${run.machine.cpuModel}, ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB; Node ${run.versions.node}; ` +
      `target ${s.target.url} (${s.target.label}); MongoDB: ${run.database.engine} ${run.database.version}; SMTP sink latency ${describeLatency(s.smtp.latency)}; ` +
      `${windowsText(s)}; ${s.connection} connections; ` +
      `git ${run.git.commit?.slice(0, 10) ?? 'unknown'}${run.git.dirty ? ' (dirty)' : ''}.`
    );
  }
  return (
    `Run ${run.runId}; ${run.machine.cpuModel}, ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB; Node ${run.versions.node}; ` +
    `MongoDB: ${run.database.engine} ${run.database.version}; SMTP sink latency ${describeLatency(s.smtp.latency)}` +
    `${s.smtp.maxConnections ? `, max ${s.smtp.maxConnections} connections` : ''}; transport ${s.transport.mode}` +
    `${s.transport.mode === 'pooled' ? ` (${s.transport.maxConnections} connections)` : ''}; scrypt cost 2^${s.hashCost}${s.hashCost === 0 ? ' (off)' : ''}; ` +
    `${windowsText(s)}; ${s.connection} connections; ` +
    `git ${run.git.commit?.slice(0, 10) ?? 'unknown'}${run.git.dirty ? ' (dirty)' : ''}.`
  );
}

/** "≥" before a latency that timeouts censored: the true value is at least this. */
function renderRequestTable(summary: Summary, s: Scenario, requests: number): string[] {
  const rows = summary.rows.filter((r) => r.requests === requests);
  if (rows.length === 0) return [];
  const columns = columnsFor(rows);
  const lines = [
    '',
    `## ${requests} requests over ${s.durationSec} s (${(requests / s.durationSec).toFixed(1)}/s)`,
    '',
    `| ${columns.map((c) => c.title).join(' | ')} |`,
    `|${columns.map((c) => (c.left ? '---' : '---:')).join('|')}|`,
  ];
  for (const r of rows) lines.push(`| ${columns.map((c) => c.cell(r)).join(' | ')} |`);
  if (rows.length > 1)
    lines.push(
      '',
      rankingSentence(
        summary.rankings?.find((k) => k.requests === requests),
        rows.length,
      ),
    );
  return lines;
}

export function renderSummaryMarkdown(summary: Summary, run: RunInfo): string {
  const s = run.scenario;
  const lines: string[] = [];
  lines.push(
    `# mailbench: ${summary.scenarioName}${summary.complete ? '' : ' (INCOMPLETE: interrupted)'}`,
  );
  lines.push('', '## Verdict', '');
  for (const sentence of summary.verdict) lines.push(`- ${sentence}`);
  lines.push('', '## What ran', '');
  for (const line of summary.configuration) lines.push(`- ${line}`);
  if (overridesOf(run).length === 0 && s.description)
    lines.push(`- The scenario file: ${s.description}`);
  lines.push('');
  lines.push(renderRunLine(run));
  lines.push('');
  lines.push(
    'Latency in ms: the median over the repeats, with their range in brackets. "from send" is what JMeter reports (elapsed); "from intended" starts when the request was due, so a slow server cannot hide queueing (p50/p99/max are from intended). "≥": some requests hit the client\'s timeout, so the figure is a lower bound.',
  );
  lines.push(
    'E-mails: one is owed per 201; "delivered" arrived and was not reported failed; "failed" the server reported failed (some may have arrived later); "lost" neither arrived nor was reported.',
  );
  for (const requests of s.requests) lines.push(...renderRequestTable(summary, s, requests));
  if (summary.breakingPoints?.length)
    lines.push(...renderBreakingPointsMarkdown(summary.breakingPoints, s));
  lines.push(...renderThresholdsMarkdown(summary));
  if (summary.reliability.length > 0) {
    lines.push('');
    lines.push(...renderReliabilityMarkdown(summary.reliability));
  }
  if (summary.capacity.length > 0) {
    lines.push('');
    lines.push(
      `## Capacity (closed loop, ${s.capacity.connections} connections, ${s.capacity.durationSec} s)`,
    );
    lines.push('');
    lines.push('| variant | sign-ups/s | p99 ms | errors | status |');
    lines.push('|---|---:|---:|---:|---|');
    for (const c of summary.capacity)
      lines.push(
        `| ${c.variant} | ${c.requestsPerSec.toFixed(1)}${c.range ? ` (${c.range[0].toFixed(1)}–${c.range[1].toFixed(1)}, n = ${c.repeats})` : ''} | ${n(c.p99Ms)} | ${c.errors} | ${c.status} |`,
      );
  }
  if (summary.findings.length > 0) {
    lines.push('');
    lines.push('## What the system did (valid cells)');
    lines.push('');
    for (const c of summary.findings) lines.push(`- \`${c.file}\`: ${c.reasons.join('; ')}`);
  }
  if (summary.invalidCells.length > 0) {
    lines.push('');
    lines.push('## Invalid cells');
    lines.push('');
    lines.push(
      'A "measurement:" reason means the figures of that cell cannot be trusted; "system:" findings are results.',
    );
    lines.push('');
    for (const c of summary.invalidCells) lines.push(`- \`${c.file}\`: ${c.reasons.join('; ')}`);
  }
  lines.push('');
  lines.push(summary.referenceNote);
  lines.push('');
  return lines.join('\n');
}
