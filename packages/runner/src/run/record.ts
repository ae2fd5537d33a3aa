/** run.json as a run starts (what ran, where, with what; credentials masked), and the line that announces the run. */
import os from 'node:os';
import { describeLatency } from '@mailbench/smtp-sink';
import { measuredFlags } from '../config/flag-help.ts';
import type { CellSpec } from '../trial/context.ts';
import { type Progress, formatDuration } from './progress.ts';
import type { RunInfo } from '../shapes/run.ts';
import { SCHEMA_VERSION } from '../shapes/results.ts';
import { redactUri } from '../services/services.ts';
import type { Overrides } from '../shapes/scenario.ts';
import { collectVersions, gitInfo, machineInfo } from '../services/environment.ts';
import { factorValues } from '../config/factors.ts';
import { isReference, referenceVersions } from '../config/references.ts';
import type { BenchPlan } from './plan.ts';

/** The overrides for the record: a target's database URI without its credentials. */
function redactOverrides(o: Overrides): Overrides {
  return o.target
    ? { ...o, target: { ...o.target, mongoUri: o.target.mongoUri && redactUri(o.target.mongoUri) } }
    : o;
}

export function newRunInfo(plan: BenchPlan, runId: string, tag: string): RunInfo {
  const target = plan.scenario.target;
  return {
    schemaVersion: SCHEMA_VERSION,
    kind: 'run',
    runId,
    signupTag: tag,
    scenarioName: plan.scenario.name,
    scenario: target
      ? {
          ...plan.scenario,
          target: { ...target, mongoUri: target.mongoUri && redactUri(target.mongoUri) },
        }
      : plan.scenario,
    // Connection strings lose their credentials on the way to the record.
    argv: plan.argv.map(redactUri),
    overrides: {
      flags: measuredFlags(plan.argv).map(redactUri),
      values: redactOverrides(plan.overrides ?? {}),
    },
    versions: collectVersions(),
    machine: machineInfo(),
    database: { engine: 'unknown', version: 'unknown' },
    smtpSink: {
      latency: describeLatency(plan.scenario.smtp.latency),
      greetingDelayMs: plan.scenario.smtp.greetingDelayMs,
      host: plan.sink?.host ?? '127.0.0.1',
      port: null,
    },
    ...(plan.scenario.variants.some(isReference) ? { referenceStack: referenceVersions() } : {}),
    git: gitInfo(),
    runner: { pid: process.pid, hostname: os.hostname() },
    startedAt: new Date().toISOString(),
    endedAt: null,
    complete: false,
    interrupted: false,
    cells: [],
    capacity: [],
  };
}

export function announce(
  plan: BenchPlan,
  progress: Progress,
  cells: CellSpec[],
  remainingSec: number,
  runDir: string,
): void {
  const s = plan.scenario;
  const capacity = s.capacity.enabled ? ` + capacity probe for ${s.variants.length} variants` : '';
  const bp = s.breakingPoint;
  const search = bp.enabled
    ? ` + breaking-point search for ${s.variants.length * factorValues(s).length} labels${s.repeats > 1 ? ` × ${s.repeats} repeats (interleaved)` : ''} (${bp.stepSec} s steps, a ladder the model guides, up to ${bp.bisections} bisections; SLO p99 ≤ ${bp.sloP99Ms} ms, e-mail ≥ ${bp.mailShare * 100} %)`
    : '';
  const matrix =
    cells.length > 0
      ? `${cells.length} cells (${s.variants.join(', ')} × ${s.requests.join('/')} requests over ${s.durationSec} s${s.repeats > 1 ? ` × ${s.repeats} repeats` : ''})`
      : 'no cells';
  progress.log(
    `mailbench: scenario ${s.name}: ${matrix}${capacity}${search}; estimated ${formatDuration(remainingSec)}. Results: ${runDir}`,
  );
}
