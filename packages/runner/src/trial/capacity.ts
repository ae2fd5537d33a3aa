/**
 * The capacity probe of one variant: a trial whose load is closed-loop (autocannon keeps
 * `connections` requests outstanding for a fixed time), which measures the highest sustainable
 * rate, not latency under a given load.
 */
import { runClosedLoop } from '@mailbench/loadgen';
import { SCHEMA_VERSION, type CapacityResult } from '../shapes/results.ts';
import type { Runnable } from '../shapes/scenario.ts';
import { dbNameFor, type CellContext } from './context.ts';
import { runTrial } from './lifecycle.ts';

/** `index`: the probe's place in the run (its sign-ups' names are the run's and its own). */
export async function runCapacity(
  runCtx: CellContext,
  variant: Runnable,
  index: number,
): Promise<CapacityResult> {
  const s = runCtx.scenario;
  const startedAt = new Date().toISOString();
  const result: CapacityResult = {
    schemaVersion: SCHEMA_VERSION,
    kind: 'capacity',
    runId: runCtx.runId,
    variant,
    status: 'failed',
    error: null,
    connections: s.capacity.connections,
    durationSec: s.capacity.durationSec,
    requestsPerSec: 0,
    total: 0,
    latencyMs: null,
    statusCounts: {},
    errors: 0,
    startedAt,
    endedAt: startedAt,
  };
  // --target refuses the probe: the built-in API's database is always there.
  if (runCtx.target || !runCtx.client || runCtx.mongoUri === null) {
    result.error = 'the capacity probe needs the database the harness started';
    return result;
  }
  const ctx = { ...runCtx, names: runCtx.names.forCell(`c${index}`) };
  const trial = await runTrial(ctx, {
    variant,
    dbName: dbNameFor(ctx.runId, `${variant}_capacity`),
    faults: {},
    // Nothing beside the load: the probe's rate is the server's alone.
    sample: false,
    load: ({ server }) =>
      runClosedLoop({
        baseUrl: server.url,
        connections: s.capacity.connections,
        durationSec: s.capacity.durationSec,
        request: (i) => ctx.names.signup('u', i),
        timeoutSec: s.timeoutSec,
      }),
    settle: async () => null,
    stopTimeoutMs: s.drainTimeoutSec * 1000 + 15_000,
  });
  const probe = trial.load;
  if (trial.error === null && probe) {
    Object.assign(result, {
      status: 'ok',
      requestsPerSec: Math.round(probe.requestsPerSec * 10) / 10,
      total: probe.total,
      latencyMs: probe.latencyMs,
      statusCounts: probe.statusCounts,
      errors: probe.errors + probe.timeouts + probe.non2xx,
    });
  } else {
    result.error = trial.error?.message ?? 'the probe did not finish';
  }
  result.startedAt = trial.startedAt;
  result.endedAt = trial.endedAt;
  return result;
}
