/**
 * runClosedLoop(): the capacity probe. autocannon keeps `connections` requests outstanding
 * (each connection sends its next request when the previous answer arrives) for a fixed time,
 * which measures the maximum sustainable rate, not latency under a given load.
 * No overallRate (autocannon's rate mode bursts and stalls). Without a rate autocannon applies
 * no coordinated-omission correction, so no latency values are invented; autocannon 9 even
 * refuses `ignoreCoordinatedOmission` without a rate ("makes no sense without connectionRate or
 * overallRate"), so it is not passed.
 */
import autocannon from 'autocannon';
import { LoadgenError } from './errors.ts';
import { probeBaseUrl } from './probe.ts';
import type { RequestSpec } from './types.ts';

export interface ClosedLoopOptions {
  baseUrl: string;
  connections: number;
  durationSec: number;
  request: (i: number) => RequestSpec;
  timeoutSec?: number;
}

export interface ClosedLoopResult {
  connections: number;
  durationSec: number;
  /** Completed requests per second, averaged over the run. */
  requestsPerSec: number;
  total: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  non2xx: number;
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  if (!Number.isInteger(options.connections) || options.connections <= 0) {
    throw new LoadgenError(
      'ERR_LOADGEN_OPTION_INVALID',
      `connections must be a whole number > 0, got ${options.connections}`,
    );
  }
  if (!(options.durationSec > 0))
    throw new LoadgenError(
      'ERR_LOADGEN_OPTION_INVALID',
      `durationSec must be > 0, got ${options.durationSec}`,
    );
  const url = await probeBaseUrl(options.baseUrl);
  let counter = 0;
  const first = options.request(0);
  const result = await autocannon({
    url: url.origin,
    connections: options.connections,
    duration: options.durationSec,
    timeout: options.timeoutSec ?? 30,
    requests: [
      {
        method: first.method,
        path: first.path,
        setupRequest: (req) => {
          const spec = options.request(counter++);
          return {
            ...req,
            method: spec.method,
            path: spec.path,
            headers: spec.headers ?? {},
            body: spec.body ?? '',
          } as typeof req;
        },
      },
    ],
  });
  const statusCounts: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
    statusCounts[code] = (stat as { count: number }).count;
  return {
    connections: options.connections,
    durationSec: options.durationSec,
    requestsPerSec: result.requests.average,
    total: result.requests.total,
    latencyMs: {
      mean: result.latency.mean,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}
