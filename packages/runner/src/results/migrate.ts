/**
 * Result files of earlier versions, read as today's: one place for what changed, instead of
 * fallbacks spread through the judge and the renderers. Version 1 cells summarized every sample
 * as their latency; their expected answers' latency is made again from the samples they keep.
 */
import { summarize } from '@mailbench/loadgen';
import { expectedIndexes, throughputOf } from '../judge/identities.ts';
import { parseLatency, type LatencySpec } from '@mailbench/smtp-sink';
import { breakingPointDefaults, scenarioDefault } from '../config/scenario.ts';
import { parseThreshold } from '../config/thresholds.ts';
import { SCHEMA_VERSION, type CellResult } from '../shapes/results.ts';
import type { Threshold } from '../shapes/scenario.ts';
import type { RunInfo } from '../shapes/run.ts';

/**
 * A stored cell in today's shape (`share`: the run's bad-input share, which decides what was
 * expected).
 */
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
    const wanted = expectedIndexes(s, share);
    const at = (col: number[], i: number) => col[i] as number;
    cell.expectedResponses = wanted.length;
    cell.latencyMs =
      wanted.length === 0
        ? null
        : {
            fromIntended: summarize(wanted.map((i) => at(s.endMs, i) - at(s.intendedMs, i))),
            fromSend: summarize(wanted.map((i) => at(s.endMs, i) - at(s.sentMs, i))),
          };
    cell.throughputPerSec = throughputOf(s, wanted.length);
  } else {
    cell.expectedResponses = stored.accounting.responses2xx;
  }
  cell.schemaVersion = SCHEMA_VERSION;
  return cell;
}

/**
 * A stored run.json in today's shape: the scenario fields added since, filled as they were then.
 */
export function migrateRun(run: RunInfo): RunInfo {
  const s = run.scenario;
  // Runs recorded before sweeps, load profiles, --target and breaking points had none of them.
  s.sweep ??= null;
  s.target ??= null;
  s.stages ??= null;
  s.breakingPoint ??= { ...breakingPointDefaults(), enabled: false };
  s.stallThresholdMs ??= scenarioDefault('stallThresholdMs');
  // Runs recorded before the latency was stored parsed keep it as text; thresholds, likewise.
  const latency = s.smtp.latency as LatencySpec | string;
  if (typeof latency === 'string') s.smtp.latency = parseLatency(latency);
  s.thresholds = (s.thresholds ?? []).map((t: Threshold | string) =>
    typeof t === 'string' ? parseThreshold(t) : t,
  );
  return run;
}
