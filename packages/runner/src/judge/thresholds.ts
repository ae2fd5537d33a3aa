/**
 * Thresholds: the user's pass/fail contract, like k6's. An expression is
 * `[LABEL:]METRIC OP VALUE[UNIT]`, e.g. `p99<500ms`, `inline:p99<2s`, `lost==0`, `errors<1%`.
 * Each is evaluated on every cell it names (all cells without a label); a failed one makes
 * `pnpm bench` exit 99 once everything is written.
 */
import { unexpectedErrors } from './judge.ts';
import { timeoutsOf } from './timeouts.ts';
import { type COUNTS, LATENCY, type Metric, type Op, type Threshold } from '../shapes/scenario.ts';
import type { CellResult, ThresholdResult } from '../shapes/results.ts';

function compare(actual: number, op: Op, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
      return actual === value;
  }
}

/**
 * The cell's value of a metric: latency in ms (from intended), or a count and what it is a share
 * of.
 */
function measure(
  cell: CellResult,
  metric: Metric,
): { value: number | null; of: number; censored: boolean } {
  const censored = timeoutsOf(cell) > 0;
  if (metric === 'lag_p99')
    return { value: cell.emails.deliveryLagMs?.p99 ?? null, of: 1, censored: false };
  if (metric in LATENCY)
    return {
      value: cell.latencyMs?.fromIntended[LATENCY[metric as keyof typeof LATENCY]] ?? null,
      of: 1,
      censored,
    };
  const e = cell.emails;
  switch (metric as (typeof COUNTS)[number]) {
    case 'errors':
      return { value: unexpectedErrors(cell), of: cell.requests, censored: false };
    case 'timeouts':
      return { value: timeoutsOf(cell), of: cell.requests, censored: false };
    case 'lost':
      return { value: e.lost, of: e.expected, censored: false };
    case 'failed':
      return {
        value: e.failed + (e.failedButDeliveredLater ?? 0),
        of: e.expected,
        censored: false,
      };
    case 'duplicated':
      return { value: e.duplicated, of: e.expected, censored: false };
  }
}

/** Whether a threshold applies to a cell: by label or variant, or to all when it names none. */
export function appliesTo(t: Threshold, cell: CellResult): boolean {
  return t.label === null || t.label === cell.label || t.label === cell.variant;
}

export function evaluateThreshold(t: Threshold, cell: CellResult): ThresholdResult {
  if (cell.status === 'failed')
    return { expr: t.expr, passed: false, actual: null, note: 'the cell failed' };
  const m = measure(cell, t.metric);
  if (m.value === null)
    return { expr: t.expr, passed: false, actual: null, note: 'the cell has no such figure' };
  const actual = t.percent ? (m.of === 0 ? 0 : m.value / m.of) : m.value;
  const shown = Math.round((t.percent ? actual * 100 : actual) * 100) / 100;
  const passed = compare(actual, t.op, t.value);
  // A censored latency is a lower bound: it can prove "greater than", never "less than".
  if (m.censored && (t.op === '<' || t.op === '<=' || t.op === '==')) {
    return {
      expr: t.expr,
      passed: false,
      actual: shown,
      note: `at least ${shown} ms: timeouts cut the latency off`,
    };
  }
  return { expr: t.expr, passed, actual: shown, note: null };
}

/** Every threshold that applies to the cell, evaluated. */
export function evaluateThresholds(thresholds: Threshold[], cell: CellResult): ThresholdResult[] {
  return thresholds.filter((t) => appliesTo(t, cell)).map((t) => evaluateThreshold(t, cell));
}
