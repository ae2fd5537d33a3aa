/**
 * A cell's requests as a JMeter CSV results file (.jtl), one row per request, so JMeter's own
 * listeners and the tools that read its results can open a mailbench run. Columns are JMeter's
 * default CSV set. Latency is the time to first byte from the send; what mailbench does not measure
 * is written as 0: sentBytes, IdleTime and Connect (its connections are opened ahead of the send,
 * so a request has no connect time of its own to report). timeStamp is when the request was sent (epoch ms) and
 * elapsed runs from the send, as in JMeter; the intended start, which JMeter has no column for,
 * stays in the cell's JSON. grpThreads/allThreads hold the requests in flight at that moment.
 */
import type { CellResult } from '../shapes/results.ts';

export const JTL_HEADER =
  'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect';

function csv(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Requests in flight when each request was sent (itself included). */
function inFlightAtSend(sent: number[], end: number[]): number[] {
  const ends = [...end].sort((a, b) => a - b);
  const order = sent.map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(sent.length).fill(0);
  let ended = 0;
  order.forEach(([t, i], k) => {
    while (ended < ends.length && (ends[ended] as number) <= t) ended++;
    out[i] = k + 1 - ended;
  });
  return out;
}

/** A request's time to first byte in whole ms from its send; 0 where the cell did not keep it. */
function firstByte(s: NonNullable<CellResult['samples']>, i: number, sentMs: number): number {
  const headers = s.headersMs?.[i];
  return headers === null || headers === undefined ? 0 : Math.max(0, Math.round(headers - sentMs));
}

export function toJtl(cell: CellResult, path = '/api/users'): string {
  const s = cell.samples;
  if (!s || cell.t0EpochMs === null) return `${JTL_HEADER}\n`;
  const t0 = cell.t0EpochMs;
  const active = inFlightAtSend(s.sentMs, s.endMs);
  const rows = s.sentMs.map((sentMs, i) => {
    const status = s.status[i] ?? 0;
    const error = s.error[i] ?? null;
    const ok = status >= 200 && status < 300 && error === null;
    const code = status > 0 ? String(status) : (error ?? 'ERROR');
    const threads = String(active[i] ?? 0);
    return [
      String(Math.round(t0 + sentMs)),
      String(Math.round((s.endMs[i] ?? sentMs) - sentMs)),
      csv(cell.label),
      csv(code),
      csv(error ?? (ok ? 'OK' : '')),
      'mailbench open loop',
      'text',
      String(ok),
      csv(ok ? '' : (error ?? `HTTP ${status}`)),
      String(s.bytes?.[i] ?? 0),
      '0',
      threads,
      threads,
      csv(path),
      // Latency: time to first byte, from the send; IdleTime and Connect are not measured.
      String(firstByte(s, i, sentMs)),
      '0',
      '0',
    ].join(',');
  });
  return `${JTL_HEADER}\n${rows.join('\n')}\n`;
}
