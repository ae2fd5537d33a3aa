/** summary.json and summary.md: one row per variant × request count, the reference beside it. */
import { describeLatency } from '@mailbench/smtp-sink';
import { subjectFacts } from '../config/subjects.ts';
import { presentationOf, type VariantPresentation } from './presentation.ts';
import { withFactor } from '../config/factors.ts';
import { compareSamples, median, MIN_REPEATS } from './compare.ts';
import { timeoutsOf } from '../judge/timeouts.ts';
import { cellLabels } from '../config/scenario.ts';
import { configurationLines, overridesOf, rankingSentence, verdictSentences } from './verdict.ts';
import type { Subject, Scenario } from '../shapes/scenario.ts';
import { isReference } from '../config/references.ts';
import { buildBreakingPoints, renderBreakingPointsMarkdown } from './breaking-points.ts';
import { type StepResult, type CapacityResult, type CellResult, SCHEMA_VERSION } from '../shapes/results.ts';
import type { Ranking, ReferenceValue, ReliabilityRow, RunInfo, Summary, SummaryRow, SummaryFigures } from '../shapes/run.ts';

export const REFERENCE_NOTE =
  'Reference: the original experiment (Flask + gunicorn with 20 gevent workers on 4 CPUs, JMeter, ' +
  'requests ramped over 60 s): a different stack on a different machine, for orientation only. ' +
  'It also measured a Node/Express API at 1000 requests: 73 ms average.';

/**
 * The original experiment's average for the same strategy and request count, where this run's
 * conditions are the reference runs' own: 60 s windows, a connection per request (JMeter's
 * threads), password hashing at the default cost, a pooled transport of 5 connections, an SMTP
 * server without caps or faults, and either no latency or a fixed 500 ms.
 */
function referenceFor(scenario: Scenario, variant: Subject, requests: number): ReferenceValue | null {
  const reference: VariantPresentation['reference'] = presentationOf(variant).reference;
  const { latency } = scenario.smtp;
  const t = scenario.transport;
  // A reference target is the original's own code: only the load and the SMTP server need to match.
  const ownSettings = isReference(variant) || (scenario.hashCost === 14 && t.mode === 'pooled' && t.maxConnections === 5);
  const sameSetup = scenario.durationSec === 60 && scenario.connection === 'per-request' && ownSettings;
  const plainSmtp = scenario.smtp.maxConnections === 0 && scenario.smtp.maxMessagesPerSec === 0 && scenario.smtp.tempFailRate === 0 && scenario.smtp.permFailRate === 0;
  if (!reference || !sameSetup || !plainSmtp || latency.kind !== 'fixed') return null;
  const table = latency.ms === 0 ? reference.noDelay : latency.ms === 500 ? reference.delay500ms : null;
  const avgMs = table?.[requests];
  return avgMs === undefined ? null : { label: reference.label, avgMs };
}

/** The median over the repeats, to 0.1 ms; null without a value. */
function medianOf(values: number[]): number | null {
  return values.length === 0 ? null : Math.round(median(values) * 10) / 10;
}

function maxOf(values: Array<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length === 0 ? null : Math.max(...v);
}

/** Each threshold of the scenario, with how many cells it named and which failed it. */
function thresholdSummary(scenario: Scenario, cells: Array<{ file: string; result: CellResult }>): Summary['thresholds'] {
  return (scenario.thresholds ?? []).map((t) => {
    const named = cells.map((c) => ({ file: c.file, r: c.result.thresholds?.find((x) => x.expr === t.expr) })).filter((c) => c.r !== undefined);
    const failed = named.filter((c) => !c.r?.passed).map((c) => ({ file: c.file, actual: c.r?.actual ?? null, note: c.r?.note ?? null }));
    return { expr: t.expr, cells: named.length, failed };
  });
}

/** Markdown lines: each threshold passed or failed, and by which cells. */
export function renderThresholdsMarkdown(summary: Summary): string[] {
  if (summary.thresholds.length === 0) return [];
  const lines = ['', '## Thresholds', ''];
  for (const t of summary.thresholds) {
    if (t.failed.length === 0) lines.push(`- ✓ \`${t.expr}\`: met by all ${t.cells} cells it names`);
    else {
      const which = t.failed.map((f) => `${f.file} (${f.actual ?? '–'}${f.note ? `: ${f.note}` : ''})`).join(', ');
      lines.push(`- ✗ \`${t.expr}\`: FAILED by ${t.failed.length} of ${t.cells} cells: ${which}`);
    }
  }
  return lines;
}

/** Per label, each valid repeat's avg from send at one request count. */
function avgFromSendByLabel(cells: Array<{ result: CellResult }>, requests: number): Array<{ label: string; values: number[] }> {
  const byLabel = new Map<string, number[]>();
  for (const { result: c } of cells) {
    if (c.requests !== requests || c.status !== 'ok' || !c.latencyMs || !c.valid) continue;
    byLabel.set(c.label, [...(byLabel.get(c.label) ?? []), c.latencyMs.fromSend.mean]);
  }
  return [...byLabel].map(([label, values]) => ({ label, values }));
}

/** The labels to show, in order: the scenario's (variants, then A/A twins after theirs), then any others the cells carry. */
function labelsOf(scenario: Scenario, cells: Array<{ result: CellResult }>): Array<{ label: string; variant: Subject }> {
  const labels: Array<{ label: string; variant: Subject }> = cellLabels(scenario);
  for (const { result } of cells) {
    if (!labels.some((l) => l.label === result.label)) labels.push({ label: result.label, variant: result.variant });
  }
  return labels;
}

export function buildSummary(run: RunInfo, cells: Array<{ file: string; result: CellResult }>, capacity: CapacityResult[], steps: Array<{ file: string; result: StepResult }> = []): Summary {
  const rows: SummaryRow[] = [];
  const scenario = run.scenario;
  for (const requests of scenario.requests) {
    for (const { label, variant } of labelsOf(scenario, cells)) {
      const group = cells.filter((c) => c.result.label === label && c.result.requests === requests).map((c) => c.result);
      if (group.length === 0) continue;
      // Cells that ran (`ok`), and of those the ones with a latency (any expected answer at all).
      const ok = group.filter((c) => c.status === 'ok');
      const timed = ok.filter((c) => c.latencyMs);
      const sendAvgs = timed.map((c) => c.latencyMs!.fromSend.mean);
      rows.push({
        variant,
        label,
        requests,
        repeats: group.length,
        throughputPerSec: medianOf(ok.map((c) => c.throughputPerSec)),
        avgFromSendMs: medianOf(sendAvgs),
        avgFromIntendedMs: medianOf(timed.map((c) => c.latencyMs!.fromIntended.mean)),
        p50Ms: medianOf(timed.map((c) => c.latencyMs!.fromIntended.p50)),
        p99Ms: medianOf(timed.map((c) => c.latencyMs!.fromIntended.p99)),
        maxMs: maxOf(timed.map((c) => c.latencyMs!.fromIntended.max)),
        sent: ok.reduce((a, c) => a + c.requests, 0),
        expectedResponses: ok.reduce((a, c) => a + c.expectedResponses, 0),
        errors: ok.reduce((a, c) => a + c.errors, 0),
        timeouts: ok.reduce((a, c) => a + timeoutsOf(c), 0),
        emailsExpected: ok.reduce((a, c) => a + c.emails.expected, 0),
        emailsDelivered: ok.reduce((a, c) => a + c.emails.delivered, 0),
        emailsLost: ok.reduce((a, c) => a + c.emails.lost, 0),
        emailsFailed: ok.reduce((a, c) => a + c.emails.failed, 0),
        emailsFailedButDeliveredLater: ok.reduce((a, c) => a + (c.emails.failedButDeliveredLater ?? 0), 0),
        emailsDuplicated: ok.reduce((a, c) => a + c.emails.duplicated, 0),
        deliveryLagP99Ms: maxOf(ok.map((c) => c.emails.deliveryLagMs?.p99 ?? null)),
        backlogMax: maxOf(ok.map((c) => c.emails.backlogMax)),
        drainSec: maxOf(ok.map((c) => c.emails.drainSec)),
        valid: group.every((c) => c.valid),
        failed: group.length - ok.length,
        avgFromSendRangeMs: sendAvgs.length > 1 ? [Math.min(...sendAvgs), Math.max(...sendAvgs)] : null,
        // The plain variant, or one at a swept SMTP latency (its cells' latency is the value's).
        reference: label === variant || group[0]?.factor?.factor === 'smtpLatencyMs' ? referenceFor(withFactor(scenario, group[0]?.factor ?? null), variant, requests) : null,
      });
    }
  }
  const summary: SummaryFigures = {
    schemaVersion: SCHEMA_VERSION,
    kind: 'summary',
    runId: run.runId,
    scenarioName: run.scenarioName,
    complete: run.complete,
    database: run.database,
    rows,
    capacity: capacity.map((c) => ({ variant: c.variant, requestsPerSec: c.requestsPerSec, p99Ms: c.latencyMs?.p99 ?? null, errors: c.errors, status: c.status })),
    invalidCells: cells.filter((c) => !c.result.valid).map((c) => ({ file: c.file, reasons: c.result.reasons })),
    findings: cells.filter((c) => c.result.valid && c.result.reasons.length > 0).map((c) => ({ file: c.file, reasons: c.result.reasons })),
    reliability: reliabilityRows(cells.map((c) => c.result)),
    thresholds: thresholdSummary(scenario, cells),
    rankings: scenario.requests.map((requests) => rankVariants(requests, avgFromSendByLabel(cells, requests))),
    referenceNote: REFERENCE_NOTE,
    ...(steps.length > 0 ? { breakingPoints: buildBreakingPoints(scenario, steps, run.machine.cores) } : {}),
  };
  // The sentences are made here, once; Markdown, HTML and the terminal print them.
  return { ...summary, verdict: verdictSentences(summary, run), configuration: configurationLines(run) };
}

/**
 * The labels of one request count ordered by their median avg from send. Each neighbour is
 * compared as \`pnpm report --compare\` compares runs (compareSamples): "<" only when the ranges of
 * the repeats are disjoint and the medians differ by more than 5 %, otherwise "~" (not
 * detectable with this many repeats). With one repeat no order is claimed.
 */
export function rankVariants(requests: number, entries: Array<{ label: string; values: number[] }>): Ranking {
  const ranked = entries.filter((e) => e.values.length > 0).sort((a, b) => median(a.values) - median(b.values));
  const n = ranked.length === 0 ? 0 : Math.min(...ranked.map((e) => e.values.length));
  if (n < MIN_REPEATS) return { requests, metric: 'avgFromSendMs', n, order: null };
  let order = ranked[0]?.label ?? '';
  for (let k = 1; k < ranked.length; k++) {
    const [prev, next] = [ranked[k - 1], ranked[k]] as [(typeof ranked)[number], (typeof ranked)[number]];
    order += `${compareSamples(prev.values, next.values).verdict === 'real' ? ' < ' : ' ~ '}${next.label}`;
  }
  return { requests, metric: 'avgFromSendMs', n, order };
}

/** Per variant and request count, summed over repeats: what happened to the mail. */
export function reliabilityRows(cells: CellResult[]): ReliabilityRow[] {
  const rows: ReliabilityRow[] = [];
  const ok = cells.filter((c) => c.status === 'ok');
  const keys = [...new Set(ok.map((c) => `${c.requests}\u0000${c.label}`))];
  const labelOrder = [...new Set(ok.map((c) => c.label))];
  for (const key of keys) {
    const [requests, label] = key.split('\u0000') as [string, string];
    const group = ok.filter((c) => c.label === label && c.requests === Number(requests));
    const sum = (f: (c: CellResult) => number) => group.reduce((a, c) => a + f(c), 0);
    const bad = group.map((c) => c.faults?.badInput).filter((b) => b != null);
    rows.push({
      variant: (group[0] as CellResult).variant,
      label,
      requests: Number(requests),
      expected: sum((c) => c.emails.expected),
      delivered: sum((c) => c.emails.delivered),
      lost: sum((c) => c.emails.lost),
      abandoned: sum((c) => c.emails.abandoned),
      held: sum((c) => c.emails.held),
      failed: sum((c) => c.emails.failed ?? 0),
      failedButDeliveredLater: sum((c) => c.emails.failedButDeliveredLater ?? 0),
      duplicated: sum((c) => c.emails.duplicated),
      deliveredNotOwed: sum((c) => c.emails.deliveredNotOwed ?? 0),
      retried: sum((c) => c.emails.retried ?? 0),
      strayUsers: sum((c) => Math.max(0, (c.accounting.usersInDb ?? 0) - c.accounting.responses2xx)),
      drainSec: maxOf(group.map((c) => c.emails.drainSec)),
      crashDownSec: maxOf(group.map((c) => c.faults?.crash?.downSec ?? null)),
      smtpRecoverySec: maxOf(group.map((c) => c.faults?.smtpDown?.recoverySec ?? null)),
      badInputAnswered: bad.length ? `${bad.reduce((a, b) => a + b.answeredAsExpected, 0)} / ${bad.reduce((a, b) => a + b.sent, 0)}` : null,
    });
  }
  return rows.sort((a, b) => a.requests - b.requests || labelOrder.indexOf(a.label) - labelOrder.indexOf(b.label));
}

/** The reliability columns, each with its cell; the fault columns only where a fault gave them a value. */
export function reliabilityColumns(summary: Pick<Summary, 'reliability'>): Array<[string, (r: Summary['reliability'][number]) => string]> {
  const n = (v: number | null) => (v === null ? '–' : v.toFixed(1));
  const rows = summary.reliability;
  const columns: Array<[string, (r: (typeof rows)[number]) => string]> = [
    ['variant', (r) => r.label],
    ['requests', (r) => String(r.requests)],
    ['e-mails owed', (r) => String(r.expected)],
    ['delivered', (r) => String(r.delivered)],
    ['failed', (r) => String(r.failed)],
    ['failed, delivered later', (r) => String(r.failedButDeliveredLater)],
    ['abandoned at shutdown', (r) => String(r.abandoned)],
    ['held at shutdown', (r) => String(r.held)],
    ['lost', (r) => String(r.lost)],
    ['duplicated', (r) => String(r.duplicated)],
    ['not owed', (r) => String(r.deliveredNotOwed)],
    ['retried', (r) => String(r.retried)],
    ['stray users', (r) => String(r.strayUsers)],
    ['drain s', (r) => n(r.drainSec)],
  ];
  if (rows.some((r) => r.crashDownSec !== null)) columns.push(['crash: API down s', (r) => n(r.crashDownSec)]);
  if (rows.some((r) => r.smtpRecoverySec !== null)) columns.push(['SMTP down: recovery s', (r) => n(r.smtpRecoverySec)]);
  if (rows.some((r) => r.badInputAnswered !== null)) columns.push(['bad input answered 4xx', (r) => r.badInputAnswered ?? '–']);
  return columns;
}

export function renderReliabilityMarkdown(rows: ReliabilityRow[]): string[] {
  const columns = reliabilityColumns({ reliability: rows });
  const lines = [
    '## Reliability: what happened to the mail',
    '',
    'Each owed e-mail (one per 201) ends in exactly one of: delivered, failed (the server reported it failed and it never arrived), failed but delivered later (reported failed, arrived all the same), lost (never arrived, never reported: silent). "duplicated" counts extra copies; "not owed" counts e-mails of sign-ups whose reply failed; "stray users" were stored without a 2xx reply.',
    '',
    `| ${columns.map(([title]) => title).join(' | ')} |`,
    `|---|${columns.slice(1).map(() => '---:').join('|')}|`,
  ];
  for (const r of rows) lines.push(`| ${columns.map(([, cell]) => cell(r)).join(' | ')} |`);
  return lines;
}

const n = (v: number | null, digits = 0) => (v === null ? '–' : v.toFixed(digits));

function renderRunLine(run: RunInfo): string {
  const s = run.scenario;
  if (s.target) {
    return (
      `Run ${run.runId}; ${run.machine.cpuModel}, ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB; Node ${run.versions.node}; ` +
      `target ${s.target.url} (${s.target.label}); MongoDB: ${run.database.engine} ${run.database.version}; SMTP sink latency ${describeLatency(s.smtp.latency)}; ` +
      `${s.durationSec} s windows${s.quick ? ' (--quick)' : ''}${s.repeats > 1 ? `, ${s.repeats} interleaved repeats` : ''}; ${s.connection} connections; ` +
      `git ${run.git.commit?.slice(0, 10) ?? 'unknown'}${run.git.dirty ? ' (dirty)' : ''}.`
    );
  }
  return (
    `Run ${run.runId}; ${run.machine.cpuModel}, ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB; Node ${run.versions.node}; ` +
    `MongoDB: ${run.database.engine} ${run.database.version}; SMTP sink latency ${describeLatency(s.smtp.latency)}` +
    `${s.smtp.maxConnections ? `, max ${s.smtp.maxConnections} connections` : ''}; transport ${s.transport.mode}` +
    `${s.transport.mode === 'pooled' ? ` (${s.transport.maxConnections} connections)` : ''}; scrypt cost 2^${s.hashCost}${s.hashCost === 0 ? ' (off)' : ''}; ` +
    `${s.durationSec} s windows${s.quick ? ' (--quick)' : ''}${s.repeats > 1 ? `, ${s.repeats} interleaved repeats` : ''}; ${s.connection} connections; ` +
    `git ${run.git.commit?.slice(0, 10) ?? 'unknown'}${run.git.dirty ? ' (dirty)' : ''}.`
  );
}

/** "≥" before a latency that timeouts censored: the true value is at least this. */
function latency(v: number | null, censored: boolean): string {
  return v === null ? '–' : `${censored ? '≥ ' : ''}${v.toFixed(0)}`;
}

function renderRequestTable(summary: Summary, s: Scenario, requests: number): string[] {
  const rows = summary.rows.filter((r) => r.requests === requests);
  if (rows.length === 0) return [];
  const lines = [
    '',
    `## ${requests} requests over ${s.durationSec} s (${(requests / s.durationSec).toFixed(1)}/s)`,
    '',
    '| variant | avg from send | avg from intended | p50 | p99 | max | errors | e-mails delivered / owed (failed, lost, dup.) | delivery lag p99 | backlog max | drain s | valid | reference avg, ms (other stack) |',
    '|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const c = r.timeouts > 0;
    const range = r.avgFromSendRangeMs ? ` (${n(r.avgFromSendRangeMs[0])}–${n(r.avgFromSendRangeMs[1])})` : '';
    const failed = r.emailsFailed + r.emailsFailedButDeliveredLater;
    const mails = !subjectFacts(r.variant).sendsMail ? '–' : `${r.emailsDelivered} / ${r.emailsExpected} (${failed}, ${r.emailsLost}, ${r.emailsDuplicated})`;
    const errors = `${r.errors}${r.timeouts ? `, ${r.timeouts} timeouts` : ''}`;
    lines.push(
      `| ${r.label} | ${latency(r.avgFromSendMs, c)}${range} | ${latency(r.avgFromIntendedMs, c)} | ${latency(r.p50Ms, c)} | ${latency(r.p99Ms, c)} | ${latency(r.maxMs, c)} | ${errors} | ${mails} | ` +
        `${n(r.deliveryLagP99Ms)} | ${n(r.backlogMax)} | ${n(r.drainSec, 1)} | ${r.valid ? 'yes' : r.failed ? 'FAILED' : 'no'} | ${r.reference ? `${r.reference.label} ${r.reference.avgMs}` : ''} |`,
    );
  }
  if (rows.length > 1) lines.push('', rankingSentence(summary.rankings?.find((k) => k.requests === requests)));
  return lines;
}

export function renderSummaryMarkdown(summary: Summary, run: RunInfo): string {
  const s = run.scenario;
  const lines: string[] = [];
  lines.push(`# mailbench: ${summary.scenarioName}${summary.complete ? '' : ' (INCOMPLETE: interrupted)'}`);
  lines.push('', '## Verdict', '');
  for (const sentence of summary.verdict) lines.push(`- ${sentence}`);
  lines.push('', '## What ran', '');
  for (const line of summary.configuration) lines.push(`- ${line}`);
  if (overridesOf(run).length === 0 && s.description) lines.push(`- The scenario file: ${s.description}`);
  lines.push('');
  lines.push(renderRunLine(run));
  lines.push('');
  lines.push('Latency in ms: the median over the repeats, with their range in brackets. "from send" is what JMeter reports (elapsed); "from intended" starts when the request was due, so a slow server cannot hide queueing (p50/p99/max are from intended). "≥": some requests hit the client\'s timeout, so the figure is a lower bound.');
  lines.push('E-mails: one is owed per 201; "delivered" arrived and was not reported failed; "failed" the server reported failed (some may have arrived later); "lost" neither arrived nor was reported.');
  for (const requests of s.requests) lines.push(...renderRequestTable(summary, s, requests));
  if (summary.breakingPoints?.length) lines.push(...renderBreakingPointsMarkdown(summary.breakingPoints, s));
  lines.push(...renderThresholdsMarkdown(summary));
  if (summary.reliability.length > 0) {
    lines.push('');
    lines.push(...renderReliabilityMarkdown(summary.reliability));
  }
  if (summary.capacity.length > 0) {
    lines.push('');
    lines.push(`## Capacity (closed loop, ${s.capacity.connections} connections, ${s.capacity.durationSec} s)`);
    lines.push('');
    lines.push('| variant | sign-ups/s | p99 ms | errors | status |');
    lines.push('|---|---:|---:|---:|---|');
    for (const c of summary.capacity) lines.push(`| ${c.variant} | ${c.requestsPerSec.toFixed(1)} | ${n(c.p99Ms)} | ${c.errors} | ${c.status} |`);
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
    lines.push('A "measurement:" reason means the figures of that cell cannot be trusted; "system:" findings are results.');
    lines.push('');
    for (const c of summary.invalidCells) lines.push(`- \`${c.file}\`: ${c.reasons.join('; ')}`);
  }
  lines.push('');
  lines.push(summary.referenceNote);
  lines.push('');
  return lines.join('\n');
}
