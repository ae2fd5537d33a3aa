/**
 * The breaking-point search of a run: per variant (and swept factor value), steps chosen by
 * bp-search.ts and run by bp-step.ts, each written as it finishes; then one entry per label with
 * the two limits, the model's predictions and its checks (bp-model.ts).
 */
import { subjectFacts } from '../config/subjects.ts';
import { nextRate } from './ladder.ts';
import { runStep } from './step.ts';
import { withFactor } from '../config/factors.ts';
import { cellLabels } from '../config/scenario.ts';
import type { FactorValue, Scenario } from '../shapes/scenario.ts';
import type { StepResult } from '../shapes/results.ts';
import { type StepOutcome, outcomeOf } from '../judge/brackets.ts';
import type { CellContext } from '../trial/context.ts';

/** The scenario one label's steps run under: the factor applied, one window per step, no faults. */
export function stepScenario(scenario: Scenario, factor: FactorValue | null): Scenario {
  const s = withFactor(scenario, factor);
  return { ...s, durationSec: s.breakingPoint.stepSec, stages: null, requests: [], faults: {} };
}

export function stepFileName(label: string, step: number): string {
  return `${label}/step-${String(step).padStart(2, '0')}.json`;
}

export interface BreakingPointHooks {
  /** Called with each finished step (an interrupted step is not one). */
  onStep: (file: string, result: StepResult) => void;
  /** Called as a step starts. */
  onStart: (label: string, step: number, ratePerSec: number) => void;
}

/**
 * Runs every label's search (the scenario's labels without A/A twins); the steps go to onStep as
 * they finish.
 */
export async function runBreakingPoints(
  ctx: CellContext,
  hooks: BreakingPointHooks,
): Promise<void> {
  const scenario = ctx.scenario;
  const labels = cellLabels({ ...scenario, aaControl: null });
  for (const [index, { variant, label, factor }] of labels.entries()) {
    const stepCtx = { ...ctx, scenario: stepScenario(scenario, factor) };
    const outcomes: StepOutcome[] = [];
    for (let step = 1; !ctx.signal.aborted; step++) {
      const next = nextRate(outcomes, scenario.breakingPoint, subjectFacts(variant).sendsMail);
      if (!next) break;
      const requests = Math.max(1, Math.round(next.ratePerSec * stepCtx.scenario.durationSec));
      hooks.onStart(label, step, requests / stepCtx.scenario.durationSec);
      const result = await runStep(stepCtx, {
        spec: { index, variant, label, requests, repeat: 1, factor },
        step,
        phase: next.phase,
      });
      if (ctx.signal.aborted) break; // an interrupted step is not a result
      hooks.onStep(stepFileName(label, step), result);
      outcomes.push(outcomeOf(result));
    }
  }
}
