/**
 * The breaking-point search of a run: per variant (and swept factor value), steps chosen by
 * ladder.ts and run by step.ts, each written as it finishes. A step the generator could not carry
 * (a busy machine: generator-limited) is measured again, up to MAX_RETRIES times, before it can
 * end a ladder; every attempt is kept. summary/breaking-points.ts makes the entries.
 */
import os from 'node:os';
import { latencyMedianMs } from '../config/latency.ts';
import { subjectFacts } from '../config/subjects.ts';
import { predict } from '../judge/model.ts';
import { pinningPlan } from '../services/pinning.ts';
import { type Aim, type Guide, nextRate } from './ladder.ts';
import { runStep } from './step.ts';
import { withFactor } from '../config/factors.ts';
import { cellLabels } from '../config/scenario.ts';
import { EXTERNAL, type FactorValue, type Scenario, type Subject } from '../shapes/scenario.ts';
import type { StepResult } from '../shapes/results.ts';
import { type StepOutcome, bracketOf, outcomeOf } from '../judge/brackets.ts';
import type { CellContext } from '../trial/context.ts';
import { GUIDE_HTTP, GUIDE_MAIL, MAX_RETRIES, PROBE_SEC, type Prediction } from '../shapes/run.ts';

/**
 * A step's warm-up lasts at most this long (s): its requests (the JIT's work) are the scenario's,
 * sent closer together; a search runs a warm-up per step, 30 to 40 of them for seven variants.
 */
export const STEP_WARMUP_SEC = 1;

/**
 * The scenario one label's steps run under: the factor applied, one window per step, a short
 * warm-up, no faults.
 */
export function stepScenario(scenario: Scenario, factor: FactorValue | null): Scenario {
  const s = withFactor(scenario, factor);
  return {
    ...s,
    durationSec: s.breakingPoint.stepSec,
    warmup: { ...s.warmup, durationSec: Math.min(s.warmup.durationSec, STEP_WARMUP_SEC) },
    stages: null,
    requests: [],
    faults: {},
  };
}

/**
 * `label/step-03.json`; a retry `label/step-03-retry1.json`; with repeated searches each in its
 * folder, `label/r2/step-03.json`.
 */
export function stepFileName(
  label: string,
  step: number,
  attempt = 1,
  repeat = 1,
  repeats = 1,
): string {
  const retry = attempt > 1 ? `-retry${attempt - 1}` : '';
  const folder = repeats > 1 ? `r${repeat}/` : '';
  return `${label}/${folder}step-${String(step).padStart(2, '0')}${retry}.json`;
}

export interface BreakingPointHooks {
  /** Called with each finished step (an interrupted step is not one). */
  onStep: (file: string, result: StepResult) => void;
  /** Called as a step starts (attempt 1) or is measured again (2, 3). */
  onStart: (label: string, step: number, ratePerSec: number, attempt: number) => void;
  /** Runs one step: runStep, unless a test gives its own. */
  run?: typeof runStep;
}

/**
 * Runs every label's search (the scenario's labels without A/A twins), the scenario's `repeats`
 * times, interleaved (A B C, A B C) so that drift spreads over the labels evenly; the steps go to
 * onStep as they finish.
 */
export async function runBreakingPoints(
  ctx: CellContext,
  hooks: BreakingPointHooks,
): Promise<void> {
  const scenario = ctx.scenario;
  const labels = cellLabels({ ...scenario, aaControl: null });
  const repeats = Math.max(1, scenario.repeats);
  for (let repeat = 1; repeat <= repeats && !ctx.signal.aborted; repeat++) {
    for (const [index, { variant, label, factor }] of labels.entries()) {
      const stepCtx = { ...ctx, scenario: stepScenario(scenario, factor) };
      await searchOne(stepCtx, hooks, { index, variant, label, factor, repeat, repeats });
    }
  }
}

/**
 * The ladder's guide: the lowest limit the model predicts among those no step has failed yet
 * (c/L before any step; once e-mail fell behind, the HTTP limit), or null where it predicts none.
 */
function guideOf(p: Prediction, outcomes: StepOutcome[]): Guide | null {
  const open = (which: 'http' | 'mail') => bracketOf(outcomes, which).hi === null;
  const guides: Guide[] = [];
  if (open('http') && p.httpRatePerSec !== null && p.httpRatePerSec > 0)
    guides.push({ ratePerSec: p.httpRatePerSec, ...GUIDE_HTTP });
  if (open('mail') && p.mailRatePerSec !== null && p.mailRatePerSec > 0)
    guides.push({ ratePerSec: p.mailRatePerSec, ...GUIDE_MAIL });
  return guides.sort((a, b) => a.ratePerSec - b.ratePerSec)[0] ?? null;
}

/**
 * The model as the search uses it, for its guide and its aim: CPU per request read at the most
 * loaded step that met the SLO (at the first, lightest step fixed costs and the JIT still
 * compiling overstate it).
 */
function modelOf(scenario: Scenario, variant: Subject, steps: StepResult[]): Prediction {
  const passed = steps.filter((s) => s.status === 'ok' && s.httpOk && s.cpuMsPerRequest !== null);
  const ref = passed.sort((a, b) => b.ratePerSec - a.ratePerSec)[0];
  return predict(variant, ref ? [ref] : [], {
    connections: variant === EXTERNAL ? null : scenario.transport.maxConnections,
    latencyMs: latencyMedianMs(scenario.smtp.latency),
    // Pinned, the API has its own cores only.
    cores: scenario.pinCores ? pinningPlan().api.length : os.cpus().length,
  });
}

/**
 * Where the model aims the bisections: its HTTP limit; for e-mail, c/L, or where SMTP answers at
 * once (no c/L), the HTTP limit, since the same CPU then bounds both.
 */
function aimOf(p: Prediction, variant: Subject): Aim {
  const mail = subjectFacts(variant).sendsMail ? (p.mailRatePerSec ?? p.httpRatePerSec) : null;
  return { http: p.httpRatePerSec, mail };
}

function probing(ctx: CellContext): CellContext {
  const durationSec = Math.min(PROBE_SEC, ctx.scenario.durationSec);
  return { ...ctx, scenario: { ...ctx.scenario, durationSec } };
}

/** One label's search: the ladder and its bisections, each disturbed step measured again. */
async function searchOne(
  ctx: CellContext,
  hooks: BreakingPointHooks,
  who: {
    index: number;
    variant: Subject;
    label: string;
    factor: FactorValue | null;
    repeat: number;
    repeats: number;
  },
): Promise<void> {
  const { index, variant, label, factor, repeat, repeats } = who;
  const outcomes: StepOutcome[] = [];
  const done: StepResult[] = [];
  for (let step = 1; !ctx.signal.aborted; step++) {
    const sendsMail = subjectFacts(variant).sendsMail;
    const model = modelOf(ctx.scenario, variant, done);
    const guide = guideOf(model, outcomes);
    const next = nextRate(
      outcomes,
      ctx.scenario.breakingPoint,
      sendsMail,
      guide,
      aimOf(model, variant),
    );
    if (!next) break;
    const stepCtx = step === 1 && guide === null && variant !== EXTERNAL ? probing(ctx) : ctx;
    const windowSec = stepCtx.scenario.durationSec;
    const requests = Math.max(1, Math.round(next.ratePerSec * windowSec));
    const spec = { index: index + 100 * (repeat - 1), variant, label, requests, repeat, factor };
    let result: StepResult | null = null;
    for (let attempt = 1; attempt <= 1 + MAX_RETRIES && !ctx.signal.aborted; attempt++) {
      hooks.onStart(label, step, requests / windowSec, attempt);
      const r = await (hooks.run ?? runStep)(stepCtx, { spec, step, phase: next.phase, attempt });
      if (ctx.signal.aborted) break; // an interrupted step is not a result
      hooks.onStep(stepFileName(label, step, attempt, repeat, repeats), r);
      result = r;
      if (!r.generatorLimited) break;
    }
    if (!result || ctx.signal.aborted) break;
    outcomes.push(outcomeOf(result));
    done.push(result);
  }
}
