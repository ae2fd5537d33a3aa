import ms from 'ms';
import { drawStandardNormal, Z_P99, type Random } from './random.ts';

/** How long the sink takes to accept a message once its data has ended. */
export type LatencySpec =
  | { kind: 'fixed'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  /** Normal, clipped at 0. */
  | { kind: 'normal'; meanMs: number; sdMs: number }
  /** Log-normal described by its median and 99th percentile. */
  | { kind: 'lognormal'; medianMs: number; p99Ms: number };

export const LATENCY_KINDS = ['fixed', 'uniform', 'normal', 'lognormal'] as const;

export class SinkOptionError extends Error {
  readonly code = 'ERR_SINK_OPTION_INVALID';
  readonly option: string;
  constructor(option: string, message: string) {
    super(`smtp-sink option "${option}": ${message}`);
    this.name = 'SinkOptionError';
    this.option = option;
  }
}

/**
 * Parses a duration such as `500ms`, `1.5s`, `2m` or a bare number of
 * milliseconds. Returns NaN when the text is not a duration.
 */
export function parseDurationMs(text: string): number {
  const trimmed = text.trim();
  if (trimmed === '') return Number.NaN;
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const value = ms(trimmed as ms.StringValue);
  return typeof value === 'number' ? value : Number.NaN;
}

function requireDuration(option: string, text: string): number {
  const value = parseDurationMs(text);
  if (!Number.isFinite(value)) {
    throw new SinkOptionError(option, `"${text}" is not a duration; write e.g. 500ms, 1.5s or 250`);
  }
  return value;
}

/**
 * Parses the command-line form of a latency:
 * `500ms` (fixed), `uniform:100ms-300ms`, `normal:200ms,50ms` (mean, sd),
 * `lognormal:200ms,2s` (median, p99). The result is validated (a range upside down is an error).
 */
export function parseLatency(text: string, option = 'latency'): LatencySpec {
  return validateLatency(parseLatencyText(text, option), option);
}

function parseLatencyText(text: string, option: string): LatencySpec {
  const colon = text.indexOf(':');
  if (colon === -1) return { kind: 'fixed', ms: requireDuration(option, text) };
  const kind = text.slice(0, colon);
  const args = text.slice(colon + 1);
  switch (kind) {
    case 'fixed':
      return { kind: 'fixed', ms: requireDuration(option, args) };
    case 'uniform': {
      const [min, max] = args.split(/-|\.\./);
      if (min === undefined || max === undefined) {
        throw new SinkOptionError(option, 'uniform needs a range such as uniform:100ms-300ms');
      }
      return {
        kind: 'uniform',
        minMs: requireDuration(option, min),
        maxMs: requireDuration(option, max),
      };
    }
    case 'normal': {
      const [mean, sd] = args.split(',');
      if (mean === undefined || sd === undefined) {
        throw new SinkOptionError(
          option,
          'normal needs a mean and a standard deviation, e.g. normal:200ms,50ms',
        );
      }
      return {
        kind: 'normal',
        meanMs: requireDuration(option, mean),
        sdMs: requireDuration(option, sd),
      };
    }
    case 'lognormal': {
      const [median, p99] = args.split(',');
      if (median === undefined || p99 === undefined) {
        throw new SinkOptionError(
          option,
          'lognormal needs a median and a p99, e.g. lognormal:200ms,2s',
        );
      }
      return {
        kind: 'lognormal',
        medianMs: requireDuration(option, median),
        p99Ms: requireDuration(option, p99),
      };
    }
    default:
      throw new SinkOptionError(
        option,
        `unknown distribution "${kind}"; use one of ${LATENCY_KINDS.join(', ')}`,
      );
  }
}

/** Throws naming the option unless the value is a finite number of milliseconds >= 0. */
export function requireNonNegative(option: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new SinkOptionError(
      option,
      `must be a finite number of milliseconds >= 0, got ${String(value)}`,
    );
  }
}

/** Throws a SinkOptionError naming the option when the spec cannot be drawn from. */
export function validateLatency(spec: LatencySpec | number, option = 'latency'): LatencySpec {
  if (typeof spec === 'number') {
    requireNonNegative(option, spec);
    return { kind: 'fixed', ms: spec };
  }
  switch (spec.kind) {
    case 'fixed':
      requireNonNegative(`${option}.ms`, spec.ms);
      break;
    case 'uniform':
      requireNonNegative(`${option}.minMs`, spec.minMs);
      requireNonNegative(`${option}.maxMs`, spec.maxMs);
      if (spec.maxMs < spec.minMs) throw new SinkOptionError(`${option}.maxMs`, 'must be >= minMs');
      break;
    case 'normal':
      requireNonNegative(`${option}.meanMs`, spec.meanMs);
      requireNonNegative(`${option}.sdMs`, spec.sdMs);
      break;
    case 'lognormal':
      requireNonNegative(`${option}.medianMs`, spec.medianMs);
      requireNonNegative(`${option}.p99Ms`, spec.p99Ms);
      if (spec.medianMs <= 0)
        throw new SinkOptionError(`${option}.medianMs`, 'must be > 0 for a log-normal');
      if (spec.p99Ms < spec.medianMs)
        throw new SinkOptionError(`${option}.p99Ms`, 'must be >= medianMs');
      break;
    default: {
      const kind = (spec as { kind?: unknown }).kind;
      throw new SinkOptionError(
        `${option}.kind`,
        `unknown distribution "${String(kind)}"; use one of ${LATENCY_KINDS.join(', ')}`,
      );
    }
  }
  return spec;
}

/** Draws one latency in milliseconds (never negative). */
export function drawLatencyMs(spec: LatencySpec, random: Random): number {
  switch (spec.kind) {
    case 'fixed':
      return spec.ms;
    case 'uniform':
      return spec.minMs + (spec.maxMs - spec.minMs) * random();
    case 'normal':
      return Math.max(0, spec.meanMs + spec.sdMs * drawStandardNormal(random));
    case 'lognormal': {
      const mu = Math.log(spec.medianMs);
      const sigma = (Math.log(spec.p99Ms) - mu) / Z_P99;
      return Math.exp(mu + sigma * drawStandardNormal(random));
    }
  }
}

export function describeLatency(spec: LatencySpec): string {
  switch (spec.kind) {
    case 'fixed':
      return `${spec.ms}ms`;
    case 'uniform':
      return `uniform ${spec.minMs}-${spec.maxMs}ms`;
    case 'normal':
      return `normal mean ${spec.meanMs}ms sd ${spec.sdMs}ms`;
    case 'lognormal':
      return `lognormal median ${spec.medianMs}ms p99 ${spec.p99Ms}ms`;
  }
}
