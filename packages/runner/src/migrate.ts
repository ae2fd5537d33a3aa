/**
 * Result files of earlier versions, read as today's: one place for what changed, instead of
 * fallbacks spread through the judge and the renderers. Version 1 cells summarized every sample
 * as their latency; their expected answers' latency is made again from the samples they keep.
 */
import { summarize } from '@mailbench/loadgen';
import { answeredAsMeant } from './requests.ts';
import { SCHEMA_VERSION, type CellResult } from './results.ts';

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** A stored cell in today's shape (`share`: the run's bad-input share, which decides what was expected). */
export function migrateCell(stored: CellResult, share: number | undefined): CellResult {
  if (stored.schemaVersion >= SCHEMA_VERSION) return stored;
  const cell: CellResult = { ...stored, emails: { ...stored.emails } };
  cell.label ??= cell.variant; // cells recorded before labels existed
  cell.emails.abandoned ??= 0;
  cell.emails.held ??= 0;
  // Version 1 read the failure report before it stopped the server.
  cell.emails.failureReport ??= 'before-stop';
  cell.latencyAllMs = stored.latencyMs;
  cell.responsesPerSec = stored.throughputPerSec;
  const s = stored.samples;
  if (s) {
    const wanted = s.status.map((status, i) => (answeredAsMeant(i, status, share) ? i : -1)).filter((i) => i >= 0);
    const at = (col: number[], i: number) => col[i] as number;
    cell.expectedResponses = wanted.length;
    cell.latencyMs = wanted.length === 0 ? null : {
      fromIntended: summarize(wanted.map((i) => at(s.endMs, i) - at(s.intendedMs, i))),
      fromSend: summarize(wanted.map((i) => at(s.endMs, i) - at(s.sentMs, i))),
    };
    const lastEndSec = s.endMs.length > 0 ? Math.max(...s.endMs) / 1000 : 0;
    cell.throughputPerSec = lastEndSec > 0 ? round2(wanted.length / lastEndSec) : 0;
  } else {
    cell.expectedResponses = stored.accounting.responses2xx;
  }
  cell.schemaVersion = SCHEMA_VERSION;
  return cell;
}
