/** The sink's shared shapes: its options, an accepted message, its counters. */
import type { LatencySpec } from './latency.ts';

export interface SmtpSinkOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one, read it from `handle.port`. */
  port?: number;
  /** Delay applied when a message's data has ended, before the reply. Default 0. */
  latency?: LatencySpec | number;
  /**
   * Delay before the 220 greeting, the whole of it (smtp-server's own fixed 100 ms wait is not
   * added: see prompt-server.ts). Default 100 ms, what the sink has always charged.
   */
  greetingDelayMs?: number;
  /** Delay before answering each RCPT TO. */
  perRecipientDelayMs?: number;
  /** Simultaneous connections allowed; beyond it the sink answers 421. 0 = no limit. */
  maxConnections?: number;
  /** Messages accepted per rolling second; beyond it a 451 "try later". 0 = no limit. */
  maxMessagesPerSec?: number;
  /** Share of messages refused on DATA with a temporary 451. 0..1. */
  tempFailRate?: number;
  /** Share of messages refused on DATA with a permanent 550. 0..1. */
  permFailRate?: number;
  /** Seed of the latency and fault draws. Default 1. */
  seed?: number;
  /** How long close() waits for clients before cutting them off. Default 1000 ms. */
  closeTimeoutMs?: number;
  /** Keep every accepted message's record (default true). Off, only counters are kept. */
  keepRecords?: boolean;
}

/** One accepted message. */
export interface SinkRecord {
  messageId: string | null;
  registrationId: string | null;
  from: string | null;
  recipients: string[];
  sizeBytes: number;
  /** Wall-clock time (epoch ms, sub-ms precision) when the sink replied 250. */
  acceptedAtMs: number;
  /** The latency model's draw for this message: the wait between the end of DATA and the reply. */
  latencyMs: number;
  /** Raw header block of the message, for tests and inspection. */
  headers: string;
  /** Body after the header block (first 64 KiB). */
  body: string;
}

export interface SinkStats {
  connections: { total: number; active: number; maxActive: number; refused: number };
  messages: {
    accepted: number;
    rejected: number;
    /** Rejections by SMTP reply code, e.g. { "451": 3, "550": 1 }. */
    rejectedByCode: Record<string, number>;
    /** Messages whose data has ended and whose reply is still pending. */
    inProgress: number;
    bytes: number;
  };
  registrations: number;
  duplicates: number;
  unattributed: number;
}
