/** summary.json and summary.md: one row per variant × request count, the reference beside it. */
import { presentationOf, type VariantPresentation } from './presentation.ts';
import { withFactor } from '../config/factors.ts';
import { compareAll, compareSamples, median, testable } from './compare.ts';
import { timeoutsOf } from '../judge/timeouts.ts';
import { cellLabels, isTwinLabel } from '../config/scenario.ts';
import { configurationLines, verdictSentences } from './verdict.ts';
import { decisionSentence } from './decision.ts';
import type { Subject, Scenario } from '../shapes/scenario.ts';
import { isReference } from '../config/references.ts';
import { buildBreakingPoints } from './breaking-points.ts';
import {
  type StepResult,
  type CapacityResult,
  type CellResult,
  SCHEMA_VERSION,
} from '../shapes/results.ts';
import type {
  Ranking,
  ReferenceValue,
  RunInfo,
  Summary,
  SummaryRow,
  SummaryFigures,
} from '../shapes/run.ts';
import { reliabilityRows, maxOf } from './reliability.ts';

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
function referenceFor(
  scenario: Scenario,
  variant: Subject,
  requests: number,
): ReferenceValue | null {
  const reference: VariantPresentation['reference'] = presentationOf(variant).reference;
  const { latency } = scenario.smtp;
  const t = scenario.transport;
  // A reference target is the original's own code: only the load and the SMTP server need to match.
  const ownSettings =
    isReference(variant) ||
    (scenario.hashCost === 14 && t.mode === 'pooled' && t.maxConnections === 5);
  const sameSetup =
    scenario.durationSec === 60 && scenario.connection === 'per-request' && ownSettings;
  const plainSmtp =
    scenario.smtp.maxConnections === 0 &&
    scenario.smtp.maxMessagesPerSec === 0 &&
    scenario.smtp.tempFailRate === 0 &&
    scenario.smtp.permFailRate === 0;
  if (!reference || !sameSetup || !plainSmtp || latency.kind !== 'fixed') return null;
  const table =
    latency.ms === 0 ? reference.noDelay : latency.ms === 500 ? reference.delay500ms : null;
  const avgMs = table?.[requests];
  return avgMs === undefined ? null : { label: reference.label, avgMs };
}

/** The median over the repeats, to 0.1 ms; null without a value. */
function medianOf(values: number[]): number | null {
  return values.length === 0 ? null : Math.round(median(values) * 10) / 10;
}

/** Each threshold of the scenario, with how many cells it named and which failed it. */
function thresholdSummary(
  scenario: Scenario,
  cells: Array<{ file: string; result: CellResult }>,
): Summary['thresholds'] {
  return (scenario.thresholds ?? []).map((t) => {
    const named = cells
      .map((c) => ({ file: c.file, r: c.result.thresholds?.find((x) => x.expr === t.expr) }))
      .filter((c) => c.r !== undefined);
    const failed = named
      .filter((c) => !c.r?.passed)
      .map((c) => ({ file: c.file, actual: c.r?.actual ?? null, note: c.r?.note ?? null }));
    // Nearest to failing: the highest value under a "<" bound, the lowest over a ">" one.
    const sign = t.op.startsWith('>') ? -1 : 1;
    const worst = named
      .filter((c) => c.r?.passed && c.r.actual !== null)
      .map((c) => ({ file: c.file, actual: c.r?.actual as number }))
      .sort((a, b) => sign * (b.actual - a.actual))[0];
    return { expr: t.expr, cells: named.length, worst: worst ?? null, failed };
  });
}

/** Per label, each valid repeat's avg from send at one request count. */
function avgFromSendByLabel(
  cells: Array<{ result: CellResult }>,
  requests: number,
): Array<{ label: string; values: number[] }> {
  const byLabel = new Map<string, number[]>();
  for (const { result: c } of cells) {
    if (c.requests !== requests || c.status !== 'ok' || !c.latencyMs || !c.valid) continue;
    byLabel.set(c.label, [...(byLabel.get(c.label) ?? []), c.latencyMs.fromSend.mean]);
  }
  return [...byLabel].map(([label, values]) => ({ label, values }));
}

/** The run's decision (decision.ts) from its figures and each cell's repeats. */
function decisionOf(
  scenario: Scenario,
  summary: SummaryFigures,
  cells: Array<{ result: CellResult }>,
): string | null {
  return decisionSentence({
    rows: summary.rows,
    valuesAt: (requests) => avgFromSendByLabel(cells, requests),
    breakingPoints: summary.breakingPoints ?? [],
    twins: new Set(
      cellLabels(scenario)
        .filter((l) => isTwinLabel(l.label, l.variant, l.factor))
        .map((l) => l.label),
    ),
    durationSec: scenario.durationSec,
  });
}

/**
 * The labels to show, in order: the scenario's (variants, then A/A twins after theirs), then any
 * others the cells carry.
 */
function labelsOf(
  scenario: Scenario,
  cells: Array<{ result: CellResult }>,
): Array<{ label: string; variant: Subject }> {
  const labels: Array<{ label: string; variant: Subject }> = cellLabels(scenario);
  for (const { result } of cells) {
    if (!labels.some((l) => l.label === result.label))
      labels.push({ label: result.label, variant: result.variant });
  }
  return labels;
}

/**
 * One row per variant: its probe, or with repeated probes the median of those that ran, with their
 * range and count (a failed probe fails the row).
 */
export function capacityRows(capacity: CapacityResult[]): Summary['capacity'] {
  const byVariant = new Map<string, CapacityResult[]>();
  for (const c of capacity) byVariant.set(c.variant, [...(byVariant.get(c.variant) ?? []), c]);
  return [...byVariant.values()].map((probes) => {
    const first = probes[0] as CapacityResult;
    const ok = probes.filter((c) => c.status === 'ok');
    const rates = ok.map((c) => c.requestsPerSec);
    const p99s = ok.map((c) => c.latencyMs?.p99).filter((v): v is number => v !== undefined);
    return {
      variant: first.variant,
      requestsPerSec: rates.length > 0 ? (medianOf(rates) as number) : first.requestsPerSec,
      p99Ms: medianOf(p99s),
      errors: probes.reduce((a, c) => a + c.errors, 0),
      status: ok.length === probes.length ? 'ok' : 'failed',
      ...(probes.length > 1
        ? {
            repeats: probes.length,
            range:
              rates.length > 0
                ? ([Math.min(...rates), Math.max(...rates)] as [number, number])
                : null,
          }
        : {}),
    };
  });
}

export function buildSummary(
  run: RunInfo,
  cells: Array<{ file: string; result: CellResult }>,
  capacity: CapacityResult[],
  steps: Array<{ file: string; result: StepResult }> = [],
): Summary {
  const rows: SummaryRow[] = [];
  const scenario = run.scenario;
  for (const requests of scenario.requests) {
    for (const { label, variant } of labelsOf(scenario, cells)) {
      const group = cells
        .filter((c) => c.result.label === label && c.result.requests === requests)
        .map((c) => c.result);
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
        emailsFailedButDeliveredLater: ok.reduce(
          (a, c) => a + (c.emails.failedButDeliveredLater ?? 0),
          0,
        ),
        emailsDuplicated: ok.reduce((a, c) => a + c.emails.duplicated, 0),
        deliveryLagP99Ms: maxOf(ok.map((c) => c.emails.deliveryLagMs?.p99 ?? null)),
        backlogMax: maxOf(ok.map((c) => c.emails.backlogMax)),
        drainSec: maxOf(ok.map((c) => c.emails.drainSec)),
        valid: group.every((c) => c.valid),
        failed: group.length - ok.length,
        avgFromSendRangeMs:
          sendAvgs.length > 1 ? [Math.min(...sendAvgs), Math.max(...sendAvgs)] : null,
        // The plain variant, or one at a swept SMTP latency (its cells' latency is the value's).
        reference:
          label === variant || group[0]?.factor?.factor === 'smtpLatencyMs'
            ? referenceFor(withFactor(scenario, group[0]?.factor ?? null), variant, requests)
            : null,
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
    capacity: capacityRows(capacity),
    invalidCells: cells
      .filter((c) => !c.result.valid)
      .map((c) => ({ file: c.file, reasons: c.result.reasons })),
    findings: cells
      .filter((c) => c.result.valid && c.result.reasons.length > 0)
      .map((c) => ({ file: c.file, reasons: c.result.reasons })),
    reliability: reliabilityRows(cells.map((c) => c.result)),
    thresholds: thresholdSummary(scenario, cells),
    rankings: scenario.requests.map((requests) =>
      rankVariants(requests, avgFromSendByLabel(cells, requests)),
    ),
    referenceNote: REFERENCE_NOTE,
    ...(steps.length > 0
      ? {
          breakingPoints: buildBreakingPoints(
            scenario,
            steps,
            run.pinning?.api.length ?? run.machine.cores,
          ),
        }
      : {}),
  };
  // The sentences are made here, once; Markdown, HTML and the terminal print them.
  return {
    ...summary,
    verdict: verdictSentences(summary, run, decisionOf(scenario, summary, cells)),
    configuration: configurationLines(run),
  };
}

/**
 * The labels of one request count ordered by their median avg from send. Each neighbour is
 * compared as \`pnpm report --compare\` compares runs (compareSamples, Holm-corrected over the
 * neighbours of this ranking): "<" only where the difference is real, "~" where it is not
 * detectable. With too few repeats for any test to reach its α (3 or fewer each), no order is
 * claimed.
 */
export function rankVariants(
  requests: number,
  entries: Array<{ label: string; values: number[] }>,
): Ranking {
  const ranked = entries
    .filter((e) => e.values.length > 0)
    .sort((a, b) => median(a.values) - median(b.values));
  const n = ranked.length === 0 ? 0 : Math.min(...ranked.map((e) => e.values.length));
  if (!testable(n, n)) return { requests, metric: 'avgFromSendMs', n, order: null };
  const steps = compareAll(
    ranked
      .slice(1)
      .map((next, k) => compareSamples((ranked[k] as (typeof ranked)[number]).values, next.values)),
  );
  let order = ranked[0]?.label ?? '';
  steps.forEach((c, k) => {
    order += `${c.verdict === 'real' ? ' < ' : ' ~ '}${(ranked[k + 1] as (typeof ranked)[number]).label}`;
  });
  return { requests, metric: 'avgFromSendMs', n, order };
}
