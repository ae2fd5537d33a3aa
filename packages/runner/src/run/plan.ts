/**
 * What a run will do and how long it will take: the cells in their order, the estimates behind
 * the progress line's ETA, and --around-limit's matrix scaled to the measured capacity.
 */
import { ORIGINAL_LIMIT_PER_SEC } from '../summary/presentation.ts';
import type { Progress } from './progress.ts';
import type { CapacityResult } from '../shapes/results.ts';
import { cellLabels } from '../config/scenario.ts';
import type { CellSpec } from '../trial/context.ts';
import { subjectFacts } from '../config/subjects.ts';
import { UsageError } from '../shapes/errors.ts';
import { latencyMedianMs } from '../config/latency.ts';
import { factorValues, runsAt } from '../config/factors.ts';
import type { RunInfo, Summary } from '../shapes/run.ts';
import type { ServicesPlan } from '../services/services.ts';
import type { Scenario, Subject, Overrides } from '../shapes/scenario.ts';
import { STEP_WARMUP_SEC } from '../search/search.ts';
/** The cells in execution order: repeats interleaved, A B C A B C. */
export function planCells(scenario: Scenario): CellSpec[] {
  const cells: CellSpec[] = [];
  for (let repeat = 1; repeat <= scenario.repeats; repeat++) {
    for (const requests of scenario.requests) {
      for (const { label, variant, factor } of cellLabels(scenario)) {
        if (runsAt(scenario, factor, requests))
          cells.push({ index: cells.length, variant, label, requests, repeat, factor });
      }
    }
  }
  return cells;
}

/** Rough wall time of one cell: the window, the warm-up, start/stop and a drain allowance. */
export function estimateCellSec(scenario: Scenario, variant: Subject, requests: number): number {
  const latencyMs = Math.max(0, latencyMedianMs(scenario.smtp.latency));
  const pool = scenario.transport.mode === 'pooled' ? scenario.transport.maxConnections : 50;
  const sendRate = latencyMs > 0 ? (pool * 1000) / latencyMs : Number.POSITIVE_INFINITY;
  const offered = requests / scenario.durationSec;
  const drain =
    !subjectFacts(variant).sendsMail || sendRate >= offered
      ? 1
      : Math.min(scenario.drainTimeoutSec, requests / sendRate - scenario.durationSec);
  return scenario.durationSec + scenario.warmup.durationSec + 4 + Math.max(1, drain);
}

/**
 * --around-limit: the request counts at the same ratios to this stack's limit as the original
 * experiment's were to its ~13 sign-ups/s (750 over 60 s is 0.96 of it, 1000 is 1.28). The limit
 * is the lowest closed-loop capacity among the variants run: the stack is as fast as its slowest
 * strategy, and the matrix then straddles where the first of them collapses.
 */
export function scaleAroundLimit(
  scenario: Scenario,
  capacity: CapacityResult[],
  run: RunInfo,
  progress?: Progress,
): Scenario {
  const measured = capacity.filter((c) => c.status === 'ok' && c.requestsPerSec > 0);
  if (measured.length === 0)
    throw new UsageError(
      'ERR_AROUND_LIMIT',
      '--around-limit: no capacity probe succeeded, so there is no limit to scale the matrix to',
    );
  const slowest = measured.reduce((a, b) => (b.requestsPerSec < a.requestsPerSec ? b : a));
  const limit = slowest.requestsPerSec;
  const ratios = scenario.requests.map((n) => n / scenario.durationSec / ORIGINAL_LIMIT_PER_SEC);
  const requests = [
    ...new Set(ratios.map((r) => Math.max(1, Math.round(r * limit * scenario.durationSec)))),
  ];
  const scaled = { ...scenario, requests, stages: null };
  run.scenario = scaled;
  run.aroundLimit = {
    limitPerSec: limit,
    limitedBy: slowest.variant,
    originalLimitPerSec: ORIGINAL_LIMIT_PER_SEC,
    ratios: ratios.map((r) => Math.round(r * 1000) / 1000),
    requests,
  };
  progress?.log(
    `around the limit: ${slowest.variant}'s capacity ${limit}/s is the stack's; the matrix becomes ${requests.join('/')} requests over ${scenario.durationSec} s (ratios ${run.aroundLimit.ratios.join(', ')} of it, as ${scenario.requests.join('/')} were of the original's ~${ORIGINAL_LIMIT_PER_SEC}/s)`,
  );
  return scaled;
}

/**
 * Rough wall time of one breaking-point step: its window, the warm-up, the SLO's worth of tail,
 * start and stop.
 */
export function estimateStepSec(scenario: Scenario): number {
  const bp = scenario.breakingPoint;
  return (
    bp.stepSec + Math.min(scenario.warmup.durationSec, STEP_WARMUP_SEC) + bp.sloP99Ms / 1000 + 6
  );
}

/**
 * Rough wall time of the breaking-point searches, per label: the ladder (guided by the model: the
 * first rung, one more where e-mail falls behind, the jump below the prediction and the rung past
 * it; never more than the unguided climb to ~50/s) and the bisections.
 */
export function estimateBreakingPointSec(scenario: Scenario): number {
  const bp = scenario.breakingPoint;
  if (!bp.enabled) return 0;
  const rungs = Math.min(
    4,
    Math.max(1, Math.ceil(Math.log(Math.max(1, 50 / bp.startRate)) / Math.log(bp.growth)) + 1),
  );
  return (
    Math.max(1, scenario.repeats) *
    factorValues(scenario).length *
    scenario.variants.length *
    (rungs + bp.bisections) *
    estimateStepSec(scenario)
  );
}
export interface BenchPlan extends ServicesPlan {
  outDir: string;
  argv: string[];
  /** The flags' parsed overrides, recorded in run.json. */
  overrides?: Overrides;
  signal: AbortSignal;
  progress?: Progress;
  /** Scale the request counts to this stack's measured limit (see scaleAroundLimit). */
  aroundLimit?: boolean;
}

export interface BenchOutcome {
  runDir: string;
  run: RunInfo;
  summary: Summary;
  markdown: string;
  allValid: boolean;
  /** A threshold failed on some cell: the CLI exits 99. */
  thresholdsFailed: boolean;
  /** report.html, or null when it could not be written (reportError says why). */
  reportFile: string | null;
  reportError: string | null;
}
