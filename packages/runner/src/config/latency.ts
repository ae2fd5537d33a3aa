/** The typical (median) latency of a latency spec: what the estimates and the mail deadline use. */
import type { LatencySpec } from '@mailbench/smtp-sink';

/** The latency a typical message waits at the sink (the median of the model). */
export function latencyMedianMs(spec: LatencySpec): number {
  switch (spec.kind) {
    case 'fixed':
      return spec.ms;
    case 'uniform':
      return (spec.minMs + spec.maxMs) / 2;
    case 'normal':
      return spec.meanMs;
    case 'lognormal':
      return spec.medianMs;
  }
}
