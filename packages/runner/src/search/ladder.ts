/**
 * Where to step next in a breaking-point search: a pure function of the steps so far.
 *
 * A ladder first: startRate, then × growth after every step whose replies met the SLO, until one
 * does not (or the generator falls behind, or maxRate). Then bisection: the HTTP limit and the
 * e-mail limit each lie between the highest rate that passed and the lowest that failed; a
 * bracket one step closes is split next, else the wider (relative to its lower end), until both
 * are narrower than the resolution or the bisection budget is spent. Every step informs both
 * limits. A step where the generator fell behind is neither pass nor fail, and nothing at or
 * above its rate is tried.
 * Guided by the model (`guide`: the lowest limit it predicts that no step has yet failed), the
 * ladder starts, or jumps, just below the prediction instead of climbing to it rung by rung, and
 * its next rung goes no further than just above it (e-mail: a bracket within 10 %) or just below
 * it (HTTP), then one resolution higher. A guide that is wrong costs steps, not the answer: a
 * rung that fails below the prediction is bisected from there like any other. The model aims the
 * bisections too (`aim`): a bracket one step cannot halve to the resolution is probed one
 * resolution inside the end the prediction lies nearer, where a single pass (or fail) closes it.
 */
import type { BreakingPointSettings } from '../shapes/scenario.ts';
import {
  bracketOf,
  generatorCeiling,
  type StepOutcome,
  withinResolution,
} from '../judge/brackets.ts';
import type { Bracket } from '../shapes/run.ts';
import { MODEL_TOLERANCE } from '../judge/model.ts';

export type SearchSettings = Pick<
  BreakingPointSettings,
  'startRate' | 'growth' | 'maxRate' | 'bisections' | 'resolution'
>;

/**
 * The model's guide: a predicted limit and how far below and above it the ladder's guided rungs
 * go (`start`, `end`: fractions of the prediction). How tight depends on the model: the e-mail
 * limit is c/L, physics, found at c/L to ~5 % above it (a step passes while 95 % of its mail
 * arrives in time), so its two rungs bracket it within 10 % with no bisection (GUIDE_MAIL); the
 * HTTP limit from CPU per request leaves the harness out of the machine's cores: read at the most
 * loaded passing step, it overstated the limit found by 0–18 % (and understated it by 6 %, once)
 * in a seven-variant search, so its second rung aims just below it (GUIDE_HTTP), and the rung after
 * a pass there goes one resolution higher. Its first rung, from the probe's CPU per request (which
 * the fixed costs of a light load overstate), found the limit at 84–124 % of that prediction: at
 * 90 % it passes mostly, and where it fails the bisection aimed just under it closes the bracket in
 * one step, so a bolder first rung saves the step a timid one (80 %) needed to climb.
 */
export interface Guide {
  ratePerSec: number;
  start: number;
  end: number;
}

/** The limits the model predicts, for aiming bisections; null where it predicts none. */
export interface Aim {
  http: number | null;
  mail: number | null;
}

export const NO_AIM: Aim = { http: null, mail: null };

function narrowEnough(b: Bracket, resolution: number): boolean {
  if (b.hi === null) return true; // nothing failed: nothing to narrow (the ladder's top is a lower bound)
  return withinResolution(b, resolution);
}

/**
 * The next rate to run, or null when the search is over. `sendsMail` says whether the e-mail limit
 * is sought.
 */
export function nextRate(
  steps: StepOutcome[],
  settings: SearchSettings,
  sendsMail: boolean,
  guide: Guide | null = null,
  aim: Aim = NO_AIM,
): { ratePerSec: number; phase: 'ladder' | 'bisect' } | null {
  if (steps.length === 0)
    return {
      ratePerSec: guide
        ? Math.min(guide.start * guide.ratePerSec, settings.maxRate)
        : settings.startRate,
      phase: 'ladder',
    };
  const ceiling = generatorCeiling(steps);
  const ladder = steps.filter((s) => s.phase === 'ladder');
  const last = ladder[ladder.length - 1] as StepOutcome;
  const climbing =
    steps.every((s) => s.phase === 'ladder') && last.httpOk && !last.generatorLimited;
  if (climbing && last.ratePerSec < settings.maxRate) {
    let up = Math.min(last.ratePerSec * settings.growth, settings.maxRate);
    if (guide !== null) {
      const from = guide.start * guide.ratePerSec;
      const to = guide.end * guide.ratePerSec;
      if (up < from) up = Math.min(from, settings.maxRate);
      else if (to > last.ratePerSec * 1.05) up = Math.min(up, to);
      else if (last.ratePerSec < to * (1 + settings.resolution) * 1.05)
        // The ladder is at (or just past) the guide's end and still passes: one resolution above
        // brackets the limit there if the model was right; once a rung clearly beyond it passed,
        // the model undershot and the ladder climbs. (Counting rungs past the end instead sent
        // inline at 500 ms, whose mail rungs already lay past its HTTP guide, from 10.6 to 15.9/s.)
        up = Math.min(up, last.ratePerSec * (1 + settings.resolution));
    }
    if (ceiling === null || up < ceiling) return { ratePerSec: up, phase: 'ladder' };
  }
  const bisections = steps.filter((s) => s.phase === 'bisect').length;
  if (bisections >= settings.bisections) return null;
  const tried = new Set(steps.map((s) => round(s.ratePerSec)));
  const candidates: Array<{ width: number; rate: number; closes: boolean }> = [];
  for (const which of sendsMail ? (['http', 'mail'] as const) : (['http'] as const)) {
    const b = bracketOf(steps, which);
    if (narrowEnough(b, settings.resolution)) continue;
    const hi = b.hi as number;
    // With no passing rate yet, step down by the ladder's factor twice; else split the bracket.
    const rate =
      b.lo === null
        ? hi / (settings.growth * settings.growth)
        : splitAt(b.lo, hi, aim[which], settings.resolution);
    const width = b.lo === null ? Number.POSITIVE_INFINITY : (hi - b.lo) / b.lo;
    const closes = b.lo !== null && oneStepCloses(b.lo, hi, settings.resolution);
    if (!tried.has(round(rate)) && (ceiling === null || rate < ceiling))
      candidates.push({ width, rate, closes });
  }
  // A bracket one step closes goes first: a closed bracket is an answer, a halved one not yet
  // (Agenda's e-mail bracket, open below 8/s, took every bisection from its 20 % HTTP bracket).
  candidates.sort((a, b) => Number(b.closes) - Number(a.closes) || b.width - a.width);
  const pick = candidates[0];
  return pick ? { ratePerSec: pick.rate, phase: 'bisect' } : null;
}

/**
 * Where to split a bracket: its middle, when one step there leaves both halves within the
 * resolution. A wider one is probed one resolution inside the end the prediction lies nearer: a
 * pass just under the top (or a fail just over the bottom) closes it in one step where the middle
 * would need two. A prediction outside the bracket by more than the model's tolerance says nothing
 * about where inside it the limit lies (below it, rungs well past it passed: the model undershot;
 * far above it, a mechanism it leaves out, such as Agenda's poll, set the limit): the middle again.
 */
export function splitAt(lo: number, hi: number, predicted: number | null, resolution: number) {
  const near = predicted !== null && predicted >= lo && predicted <= hi * (1 + MODEL_TOLERANCE);
  if (oneStepCloses(lo, hi, resolution) || !near) return (lo + hi) / 2;
  return predicted >= Math.sqrt(lo * hi) ? hi / (1 + resolution) : lo * (1 + resolution);
}

/** Whether one step in its middle leaves both halves of a bracket within the resolution. */
function oneStepCloses(lo: number, hi: number, resolution: number): boolean {
  return hi <= lo * (1 + resolution) ** 2;
}

function round(rate: number): number {
  return Math.round(rate * 100) / 100;
}
