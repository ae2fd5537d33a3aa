/** The value parsers of the flags' table: each turns a flag's text into its value or a usage error naming the flag. */
import { UsageError } from '../shapes/errors.ts';
import type { RateStage } from '@mailbench/loadgen';
import { parseDurationMs, parseLatency, type LatencySpec } from '@mailbench/smtp-sink';
import { isVariant, VARIANTS, type Variant } from '@mailbench/target-api/contract';
import { isRunnable } from './subjects.ts';
import { REFERENCE_NAMES, type Runnable } from '../shapes/scenario.ts';

export function usage(message: string): UsageError {
  return new UsageError('ERR_USAGE', message);
}

export function list(flag: string, text: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw usage(`${flag} needs a comma-separated list, got "${text}"`);
  return items;
}

export function positiveInt(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min)
    throw usage(`${flag} must be a whole number >= ${min}, got "${text}"`);
  return n;
}

/** A comma-separated list of whole numbers >= 1, each once, in the order given. */
export function positiveInts(flag: string, text: string): number[] {
  return [...new Set(list(flag, text).map((c) => positiveInt(flag, c)))];
}

export function variantList(text: string, flag = '--variants'): Runnable[] {
  const names = list(flag, text);
  for (const v of names)
    if (!isRunnable(v))
      throw usage(
        `${flag}: unknown variant "${v}"; valid: ${VARIANTS.join(', ')}, and the reference targets ${REFERENCE_NAMES.join(', ')}`,
      );
  return [...new Set(names)] as Runnable[];
}

/**
 * A bare number for a duration is refused: the flags once read it as seconds in one place and
 * milliseconds in another, and `--slo-p99 500` meant 500 s. The error offers both readings.
 */
function unitRequired(flag: string, text: string): UsageError | null {
  const bare = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!bare || Number(bare[1]) === 0) return null;
  return usage(`${flag} needs a unit: ${bare[1]}ms or ${bare[1]}s (got "${text}")`);
}

export function durationSec(text: string, flag = '--duration'): number {
  const bare = unitRequired(flag, text);
  if (bare) throw bare;
  const ms = parseDurationMs(text);
  if (!Number.isFinite(ms) || ms <= 0)
    throw usage(`${flag} must be a positive duration such as 60s, 1.5m or 1500ms, got "${text}"`);
  return ms / 1000;
}

/** "10/s:20s,10-40/s:60s": a constant stage, then a linear ramp. */
export function parseStages(text: string): RateStage[] {
  return list('--stages', text).map((item) => {
    const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?\/s:(.+)$/.exec(item);
    if (!m)
      throw usage(
        `--stages: "${item}" is not RATE/s:DURATION or FROM-TO/s:DURATION (e.g. 10/s:20s or 10-40/s:1m)`,
      );
    const seconds = durationSec(m[3] as string, '--stages');
    return m[2] === undefined
      ? { durationSec: seconds, rate: Number(m[1]) }
      : { durationSec: seconds, from: Number(m[1]), to: Number(m[2]) };
  });
}

export function hashCost(text: string): number {
  const n = positiveInt('--hash-cost', text, 0);
  if (n === 1 || n > 20) throw usage(`--hash-cost must be 0 (off) or 2-20, got "${text}"`);
  return n;
}

export function latency(text: string): LatencySpec {
  const bare = unitRequired('--smtp-latency', text);
  if (bare) throw bare;
  try {
    return parseLatency(text, '--smtp-latency');
  } catch (err) {
    throw usage((err as Error).message);
  }
}

export function oneOf<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text))
    throw usage(`${flag} must be one of ${choices.join(', ')}, got "${text}"`);
  return text as T;
}

export function aaControl(text: string): Variant {
  const [v] = variantList(text, '--aa-control');
  if (!isVariant(v!))
    throw usage(
      `--aa-control: ${v} is a reference target; the A/A twin is for the built-in variants (${VARIANTS.join(', ')})`,
    );
  return v;
}
