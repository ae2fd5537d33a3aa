/** Requests that ended at the client's timeout: their latency is censored (a lower bound). */
import type { CellResult } from '../shapes/results.ts';

/** Error codes of a request that ended at the client's timeout. */
export const TIMEOUT_CODES = [
  'ETIMEDOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
] as const;

export function countTimeouts(errorCounts: Record<string, number>): number {
  return TIMEOUT_CODES.reduce((a, code) => a + (errorCounts[code] ?? 0), 0);
}

/** A stored cell's timeouts (cells recorded before the field existed: from their error counts). */
export function timeoutsOf(cell: Pick<CellResult, 'errorCounts'> & { timeouts?: number }): number {
  return cell.timeouts ?? countTimeouts(cell.errorCounts);
}
