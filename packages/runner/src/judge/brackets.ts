/**
 * What a breaking-point search's steps say so far: the bracket of each limit (the highest rate
 * that passed below the lowest that failed) and the generator's own ceiling. The search uses it to
 * choose the next step; the summary, to report the limits.
 */
import type { StepResult } from '../shapes/results.ts';
import type { Bracket } from '../shapes/run.ts';

/**
 * Where to step next in a breaking-point search: a pure function of the steps so far.
 *
 * A ladder first: startRate, then × growth after every step whose replies met the SLO, until one
 * does not (or the generator falls behind, or maxRate). Then bisection: the HTTP limit and the
 * e-mail limit each lie between the highest rate that passed and the lowest that failed; the
 * wider bracket (relative to its lower end) is halved next, until both are narrower than the
 * resolution or the bisection budget is spent. Every step informs both limits. A step where the
 * generator fell behind is neither pass nor fail, and nothing at or above its rate is tried.
 */

export interface StepOutcome {
  ratePerSec: number;
  phase: 'ladder' | 'bisect';
  /** Replies met the SLO (p99 from intended, no errors). */
  httpOk: boolean;
  /** The step's e-mails kept up; null for a variant that sends none. */
  mailOk: boolean | null;
  /** The generator, not the server, was the limit: the step tells nothing about the server. */
  generatorLimited: boolean;
}

/** The bracket of one limit from the steps (the generator-limited ones left out). */
/**
 * Whether a bracket is within the search's resolution (relative to its lower end). A step's rate
 * is a whole number of requests over its window, so a bracket aimed at exactly the resolution can
 * come out a hair wider: within RATE_ROUNDING more it counts as narrowed.
 */
export const RATE_ROUNDING = 0.01;
export function withinResolution(b: Bracket, resolution: number): boolean {
  return b.lo !== null && b.hi !== null && (b.hi - b.lo) / b.lo <= resolution + RATE_ROUNDING;
}

export function bracketOf(steps: StepOutcome[], which: 'http' | 'mail'): Bracket {
  const judged = steps.filter(
    (s) => !s.generatorLimited && (which === 'http' || s.mailOk !== null),
  );
  const ok = (s: StepOutcome) => (which === 'http' ? s.httpOk : s.mailOk === true);
  const failed = judged.filter((s) => !ok(s)).map((s) => s.ratePerSec);
  const hi = failed.length > 0 ? Math.min(...failed) : null;
  const passed = judged
    .filter((s) => ok(s) && (hi === null || s.ratePerSec < hi))
    .map((s) => s.ratePerSec);
  return { lo: passed.length > 0 ? Math.max(...passed) : null, hi };
}

/** The lowest rate at which the generator fell behind, or null. */
export function generatorCeiling(steps: StepOutcome[]): number | null {
  const limited = steps.filter((s) => s.generatorLimited).map((s) => s.ratePerSec);
  return limited.length > 0 ? Math.min(...limited) : null;
}

export function outcomeOf(r: StepResult): StepOutcome {
  // A step that failed to run counts as a failure at its rate: the server did not carry it.
  return {
    ratePerSec: r.ratePerSec,
    phase: r.phase,
    httpOk: r.httpOk,
    mailOk: r.mailOk,
    generatorLimited: r.generatorLimited,
  };
}
