/**
 * The threshold language (`[LABEL:]METRIC OP VALUE[UNIT]`, e.g. `p99<500ms`, `inline:p99<2s`,
 * `lost==0`, `errors<1%`), parsed once when the scenario and the flags are read;
 * judge/thresholds.ts evaluates the parsed thresholds on each cell.
 */
import { UsageError } from '../shapes/errors.ts';
import {
  LATENCY,
  THRESHOLD_METRICS,
  type Metric,
  type Op,
  type Threshold,
} from '../shapes/scenario.ts';

function invalid(expr: string, why: string): UsageError {
  return new UsageError(
    'ERR_THRESHOLD_INVALID',
    `threshold "${expr}": ${why}. Write [LABEL:]METRIC OP VALUE, e.g. p99<500ms, inline:p99<2s, lost==0, errors<1%; metrics: ${THRESHOLD_METRICS.join(', ')}`,
  );
}

export function parseThreshold(expr: string): Threshold {
  const m =
    /^\s*(?:([a-z0-9][a-z0-9._-]*):)?([a-z0-9_]+)\s*(<=|>=|==|<|>)\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|%)?\s*$/i.exec(
      expr,
    );
  if (!m) throw invalid(expr, 'not understood');
  const [, label, metricText, op, number, unit] = m as unknown as [
    string,
    string | undefined,
    string,
    Op,
    string,
    string | undefined,
  ];
  const metric = metricText.toLowerCase() as Metric;
  if (!THRESHOLD_METRICS.includes(metric)) throw invalid(expr, `unknown metric "${metricText}"`);
  const isLatency = metric in LATENCY || metric === 'lag_p99';
  if (isLatency && unit === '%') throw invalid(expr, 'a latency takes ms or s, not %');
  if (!isLatency && (unit === 'ms' || unit === 's'))
    throw invalid(expr, `${metric} is a count (or a share with %), not a time`);
  const value = Number(number) * (unit === 's' ? 1000 : unit === '%' ? 0.01 : 1);
  return { expr: expr.trim(), label: label ?? null, metric, op, value, percent: unit === '%' };
}
