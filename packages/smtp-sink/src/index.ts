export { startSmtpSink, readHeader } from './sink.ts';
export type { SmtpSink, SmtpSinkOptions, SinkRecord, SinkStats, WaitForOptions } from './sink.ts';
export {
  parseLatency,
  parseDurationMs,
  validateLatency,
  describeLatency,
  drawLatencyMs,
  SinkOptionError,
  LATENCY_KINDS,
} from './latency.ts';
export type { LatencySpec } from './latency.ts';
export { createRandom, drawStandardNormal } from './random.ts';
export type { Random } from './random.ts';
