/** The sink's options, filled with their defaults and checked once, naming the bad one. */
import {
  requireNonNegative,
  SinkOptionError,
  validateLatency,
  type LatencySpec,
} from './latency.ts';
import type { SmtpSinkOptions } from './types.ts';

export type ResolvedSinkOptions = Required<Omit<SmtpSinkOptions, 'latency'>> & {
  latency: LatencySpec;
};

function requireRate(option: string, value: number): void {
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new SinkOptionError(option, `must be a share between 0 and 1, got ${value}`);
}

function requireCount(option: string, value: number): void {
  if (!Number.isInteger(value) || value < 0)
    throw new SinkOptionError(option, `must be a whole number >= 0, got ${value}`);
}

export function resolveSinkOptions(options: SmtpSinkOptions): ResolvedSinkOptions {
  const o: ResolvedSinkOptions = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    latency: validateLatency(options.latency ?? 0),
    greetingDelayMs: options.greetingDelayMs ?? 100,
    perRecipientDelayMs: options.perRecipientDelayMs ?? 0,
    maxConnections: options.maxConnections ?? 0,
    maxMessagesPerSec: options.maxMessagesPerSec ?? 0,
    tempFailRate: options.tempFailRate ?? 0,
    permFailRate: options.permFailRate ?? 0,
    seed: options.seed ?? 1,
    closeTimeoutMs: options.closeTimeoutMs ?? 1000,
    keepRecords: options.keepRecords ?? true,
  };
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
    throw new SinkOptionError('port', `must be a port number 0-65535, got ${o.port}`);
  requireNonNegative('greetingDelayMs', o.greetingDelayMs);
  requireNonNegative('perRecipientDelayMs', o.perRecipientDelayMs);
  requireNonNegative('closeTimeoutMs', o.closeTimeoutMs);
  requireCount('maxConnections', o.maxConnections);
  requireCount('maxMessagesPerSec', o.maxMessagesPerSec);
  requireRate('tempFailRate', o.tempFailRate);
  requireRate('permFailRate', o.permFailRate);
  if (o.tempFailRate + o.permFailRate > 1)
    throw new SinkOptionError('tempFailRate', 'tempFailRate + permFailRate must not exceed 1');
  if (!Number.isInteger(o.seed))
    throw new SinkOptionError('seed', `must be an integer, got ${o.seed}`);
  return o;
}
