/**
 * Arrival schedules: when each request is due, in closed form, so the count is exact and no
 * rounding accumulates. Two shapes:
 * - even: N requests over T, request i due at i·T/N (JMeter's ramp-up, without its bunching);
 * - stages of arrival rate, each constant or ramping linearly (k6's ramping-arrival-rate):
 *   with the cumulative count Λ(t) = ∫ rate, request k is due at the t where Λ(t) = k.
 */
import { LoadgenError } from './errors.ts';

/**
 * One stage: `rate` per second for `durationSec`, or a linear ramp from `from` to `to` per second.
 */
export type RateStage =
  | { durationSec: number; rate: number }
  | { durationSec: number; from: number; to: number };

function invalid(message: string): LoadgenError {
  return new LoadgenError('ERR_LOADGEN_OPTION_INVALID', message);
}

/** The rates at a stage's start and end. */
export function stageRates(stage: RateStage): { from: number; to: number } {
  return 'rate' in stage
    ? { from: stage.rate, to: stage.rate }
    : { from: stage.from, to: stage.to };
}

export function validateStages(stages: RateStage[]): void {
  if (!Array.isArray(stages) || stages.length === 0)
    throw invalid('stages must be a non-empty list');
  stages.forEach((stage, k) => {
    const { from, to } = stageRates(stage);
    if (!(stage.durationSec > 0) || !Number.isFinite(stage.durationSec))
      throw invalid(`stage ${k + 1}: durationSec must be > 0, got ${stage.durationSec}`);
    if (!(from >= 0) || !(to >= 0) || !Number.isFinite(from) || !Number.isFinite(to))
      throw invalid(`stage ${k + 1}: rates must be finite and >= 0`);
  });
  if (stagesCount(stages) < 1) throw invalid('the stages schedule no request at all');
}

/**
 * Requests the stages schedule: the integral of the rate, rounded down (a fraction of a request is
 * not sent).
 */
export function stagesCount(stages: RateStage[]): number {
  let total = 0;
  for (const stage of stages) {
    const { from, to } = stageRates(stage);
    total += ((from + to) / 2) * stage.durationSec;
  }
  // A tolerance for totals such as 0.1·30 that are whole numbers on paper.
  return Math.floor(total + 1e-9);
}

export function stagesDurationMs(stages: RateStage[]): number {
  return stages.reduce((a, s) => a + s.durationSec, 0) * 1000;
}

/** Due times (ms from t0) of N requests evenly over T. */
export function evenDueTimes(count: number, durationMs: number): Float64Array {
  const due = new Float64Array(count);
  const step = count > 0 ? durationMs / count : 0;
  for (let i = 0; i < count; i++) due[i] = i * step;
  return due;
}

/**
 * Due times (ms from t0) of the stages' requests. Within a stage starting at cumulative count
 * C with rate a ramping to b over D, Λ(t) = C + a·t + s·t²/2 with s = (b − a)/D; request k is
 * due at t = 2x / (a + √(a² + 2·s·x)) with x = k − C (the stable root, valid for s of any sign).
 */
export function stageDueTimes(stages: RateStage[]): Float64Array {
  validateStages(stages);
  const count = stagesCount(stages);
  const due = new Float64Array(count);
  let k = 0;
  let startSec = 0;
  let cumulative = 0;
  for (const stage of stages) {
    const { from: a, to: b } = stageRates(stage);
    const d = stage.durationSec;
    const s = (b - a) / d;
    const end = cumulative + ((a + b) / 2) * d;
    for (; k < count && k < end - 1e-9; k++) {
      const x = k - cumulative;
      const root = Math.sqrt(Math.max(0, a * a + 2 * s * x));
      const t = x === 0 ? 0 : (2 * x) / (a + root);
      due[k] = (startSec + Math.min(t, d)) * 1000;
    }
    cumulative = end;
    startSec += d;
  }
  return due;
}

/** The stages as text, e.g. "10/s for 20 s, then 10→40/s over 60 s". */
export function describeStages(stages: RateStage[]): string {
  return stages
    .map((stage) => {
      const { from, to } = stageRates(stage);
      return from === to
        ? `${fmt(from)}/s for ${fmt(stage.durationSec)} s`
        : `${fmt(from)}→${fmt(to)}/s over ${fmt(stage.durationSec)} s`;
    })
    .join(', then ');
}

function fmt(n: number): string {
  return String(Math.round(n * 100) / 100);
}
