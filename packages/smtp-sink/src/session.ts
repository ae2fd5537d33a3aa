/**
 * The SMTP session handlers: who may connect (outage, connection cap), the delays of the
 * greeting and of each RCPT, and what happens to a message once its data has ended.
 */
import { performance } from 'node:perf_hooks';
import type { SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { createDraws } from './draws.ts';
import type { SinkLedger } from './ledger.ts';
import type { ResolvedSinkOptions } from './options.ts';
import type { SinkRecord } from './types.ts';

/** The sink's switches that the handlers read at the moment they run. */
export interface SinkState {
  available: boolean;
  closed: boolean;
  /** Sessions cut by an outage: a reply still pending on them is not an acceptance. */
  droppedSessions: Set<string>;
  /** Runs fn after delayMs (at once for 0), on a timer that close() cancels. */
  later(delayMs: number, fn: () => void): void;
  /** Told of every accepted message. */
  onAccepted(record: SinkRecord): void;
}

/** SMTP error carrying the reply code that smtp-server sends back. */
function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_BODY_KEPT = 64 * 1024;

/** Reads one header (case-insensitive, folded lines joined) from a raw header block. */
export function readHeader(headers: string, name: string): string | null {
  const unfolded = headers.replace(/\r?\n[ \t]+/g, ' ');
  const wanted = name.toLowerCase();
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted)
      return line.slice(colon + 1).trim();
  }
  return null;
}

function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

function recordOf(
  raw: Buffer,
  size: number,
  session: SMTPServerSession,
  delayMs: number,
): SinkRecord {
  const headerEnd = raw.indexOf(HEADER_END);
  const headers = (headerEnd === -1 ? raw : raw.subarray(0, headerEnd)).toString('utf8');
  const body =
    headerEnd === -1
      ? ''
      : raw.subarray(headerEnd + 4, headerEnd + 4 + MAX_BODY_KEPT).toString('utf8');
  return {
    messageId: readHeader(headers, 'Message-ID'),
    registrationId: readHeader(headers, 'X-Registration-Id'),
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
    recipients: session.envelope.rcptTo.map((r) => r.address),
    sizeBytes: size,
    acceptedAtMs: nowEpochMs(),
    latencyMs: delayMs,
    headers,
    body,
  };
}

type Handlers = Pick<SMTPServerOptions, 'onConnect' | 'onRcptTo' | 'onData' | 'onClose'>;

export function createSessionHandlers(
  options: ResolvedSinkOptions,
  ledger: SinkLedger,
  draws: ReturnType<typeof createDraws>,
  state: SinkState,
): Handlers {
  /**
   * After the message's drawn latency: refuse it (outage, fault, rate limit) or accept and record
   * it.
   */
  function settleMessage(
    raw: Buffer,
    size: number,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
  ): void {
    ledger.counters.inProgress += 1;
    ledger.lastActivityMs = performance.now();
    // Decide the outcome now, from the seeded streams, in arrival order.
    const draw = draws.next();
    state.later(draw.delayMs, () => {
      ledger.counters.inProgress -= 1;
      ledger.lastActivityMs = performance.now();
      if (state.closed) return callback(smtpError(421, '4.3.2 Service shutting down'));
      if (state.droppedSessions.has(session.id)) {
        ledger.countRejection(421);
        return callback(smtpError(421, '4.3.2 Connection dropped (the sink is set unavailable)'));
      }
      if (draw.fault.refused) {
        ledger.countRejection(draw.fault.code);
        return callback(smtpError(draw.fault.code, draw.fault.message));
      }
      if (ledger.overRateLimit()) {
        ledger.countRejection(451);
        return callback(
          smtpError(
            451,
            `4.7.0 Rate limit of ${options.maxMessagesPerSec} messages/s exceeded, try again later`,
          ),
        );
      }
      const record = recordOf(raw, size, session, draw.delayMs);
      ledger.accept(record);
      callback(null);
      state.onAccepted(record);
    });
  }

  return {
    onConnect(session, callback) {
      ledger.counters.connectionsTotal += 1;
      const refuse = (message: string, counted: boolean) => {
        ledger.counters.refused += 1;
        if (counted) ledger.countRejection(421);
        callback(smtpError(421, message));
      };
      if (state.closed) return refuse('4.3.2 Service shutting down', false);
      if (!state.available)
        return refuse(
          '4.3.2 Service not available (the sink is set unavailable), try again later',
          true,
        );
      if (options.maxConnections > 0 && ledger.activeSessions.size >= options.maxConnections) {
        return refuse(
          `4.7.0 Too many connections (limit ${options.maxConnections}), try again in a moment`,
          true,
        );
      }
      ledger.connectionOpened(session.id);
      state.later(options.greetingDelayMs, () => callback());
    },
    onRcptTo(_address, _session, callback) {
      state.later(options.perRecipientDelayMs, () => callback());
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_KEPT + 16 * 1024) chunks.push(chunk);
      });
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => settleMessage(Buffer.concat(chunks), size, session, callback));
    },
    onClose(session) {
      ledger.activeSessions.delete(session.id);
    },
  };
}
