import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { describeLatency, drawLatencyMs, requireNonNegative, SinkOptionError, validateLatency, type LatencySpec } from './latency.ts';
import { createRandom, type Random } from './random.ts';

export interface SmtpSinkOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one, read it from `handle.port`. */
  port?: number;
  /** Delay applied when a message's data has ended, before the reply. Default 0. */
  latency?: LatencySpec | number;
  /** Extra delay before the 220 greeting (on top of smtp-server's own 100 ms). */
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

export interface WaitForOptions {
  timeoutMs: number;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  /** The latency model in force, for reports. */
  readonly latency: LatencySpec;
  stats(): SinkStats;
  /** Every accepted message, in order of acceptance (empty when keepRecords is false). */
  records(): readonly SinkRecord[];
  /** Registration id → how many messages carried it. */
  registrationCounts(): ReadonlyMap<string, number>;
  /** Resolves when `count` distinct registrations have arrived; rejects on timeout naming what is missing. */
  waitFor(count: number, options: WaitForOptions): Promise<SinkStats>;
  /** Resolves when no message is in progress and none arrived for `quietMs`. */
  waitForIdle(options: { quietMs: number; timeoutMs: number }): Promise<void>;
  /**
   * While false, every new connection is refused with 421 (a provider outage). With
   * `dropConnections`, open connections are also cut (421, then closed), and messages whose
   * reply was pending on them are not accepted.
   */
  setAvailable(available: boolean, options?: { dropConnections?: boolean }): void;
  /** Forgets every record and counter (open connections stay counted as active). */
  reset(): void;
  /** Subscribe to accepted messages. Returns a function that unsubscribes. */
  onMessage(listener: (record: SinkRecord) => void): () => void;
  close(): Promise<void>;
}

function requireRate(option: string, value: number): void {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new SinkOptionError(option, `must be a share between 0 and 1, got ${value}`);
  }
}

function requireCount(option: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new SinkOptionError(option, `must be a whole number >= 0, got ${value}`);
  }
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
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) {
      return line.slice(colon + 1).trim();
    }
  }
  return null;
}

function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new SinkOptionError('port', `must be a port number 0-65535, got ${requestedPort}`);
  }
  const latency = validateLatency(options.latency ?? 0);
  const greetingDelayMs = options.greetingDelayMs ?? 0;
  const perRecipientDelayMs = options.perRecipientDelayMs ?? 0;
  const maxConnections = options.maxConnections ?? 0;
  const maxMessagesPerSec = options.maxMessagesPerSec ?? 0;
  const tempFailRate = options.tempFailRate ?? 0;
  const permFailRate = options.permFailRate ?? 0;
  const seed = options.seed ?? 1;
  const closeTimeoutMs = options.closeTimeoutMs ?? 1000;
  const keepRecords = options.keepRecords ?? true;
  requireNonNegative('greetingDelayMs', greetingDelayMs);
  requireNonNegative('perRecipientDelayMs', perRecipientDelayMs);
  requireNonNegative('closeTimeoutMs', closeTimeoutMs);
  requireCount('maxConnections', maxConnections);
  requireCount('maxMessagesPerSec', maxMessagesPerSec);
  requireRate('tempFailRate', tempFailRate);
  requireRate('permFailRate', permFailRate);
  if (tempFailRate + permFailRate > 1) {
    throw new SinkOptionError('tempFailRate', 'tempFailRate + permFailRate must not exceed 1');
  }
  if (!Number.isInteger(seed)) throw new SinkOptionError('seed', `must be an integer, got ${seed}`);

  // Separate streams so that turning faults on does not change the latency draws.
  let latencyRandom: Random = createRandom(seed);
  let faultRandom: Random = createRandom(seed ^ 0x5bd1e995);

  const events = new EventEmitter();
  const timers = new Set<NodeJS.Timeout>();
  const activeSessions = new Set<string>();
  const droppedSessions = new Set<string>();
  let available = true;
  let closed = false;

  let records: SinkRecord[] = [];
  let registrationCounts = new Map<string, number>();
  let acceptedTimes: number[] = []; // for the per-second limit: acceptance times within the last second
  let counters = freshCounters();
  let lastActivityMs = performance.now();

  function freshCounters() {
    return {
      connectionsTotal: 0,
      maxActive: activeSessions.size,
      refused: 0,
      accepted: 0,
      rejectedByCode: {} as Record<string, number>,
      inProgress: 0,
      bytes: 0,
      duplicates: 0,
      unattributed: 0,
    };
  }

  function later(delayMs: number, fn: () => void): void {
    if (delayMs <= 0) {
      fn();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, delayMs);
    timers.add(timer);
  }

  function countRejection(code: number): void {
    const key = String(code);
    counters.rejectedByCode[key] = (counters.rejectedByCode[key] ?? 0) + 1;
  }

  function overRateLimit(nowMs: number): boolean {
    if (maxMessagesPerSec === 0) return false;
    while (acceptedTimes.length > 0 && (acceptedTimes[0] ?? 0) <= nowMs - 1000) acceptedTimes.shift();
    return acceptedTimes.length >= maxMessagesPerSec;
  }

  function stats(): SinkStats {
    const rejected = Object.values(counters.rejectedByCode).reduce((a, b) => a + b, 0);
    return {
      connections: {
        total: counters.connectionsTotal,
        active: activeSessions.size,
        maxActive: counters.maxActive,
        refused: counters.refused,
      },
      messages: {
        accepted: counters.accepted,
        rejected,
        rejectedByCode: { ...counters.rejectedByCode },
        inProgress: counters.inProgress,
        bytes: counters.bytes,
      },
      registrations: registrationCounts.size,
      duplicates: counters.duplicates,
      unattributed: counters.unattributed,
    };
  }

  function handleData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_KEPT + 16 * 1024) chunks.push(chunk);
    });
    stream.on('error', (err: Error) => callback(err));
    stream.on('end', () => {
      counters.inProgress += 1;
      lastActivityMs = performance.now();
      // Decide the outcome now, from the seeded streams, in arrival order.
      const delayMs = drawLatencyMs(latency, latencyRandom);
      const faultDraw = tempFailRate + permFailRate > 0 ? faultRandom() : 1;
      later(delayMs, () => {
        counters.inProgress -= 1;
        lastActivityMs = performance.now();
        if (closed) return callback(smtpError(421, '4.3.2 Service shutting down'));
        if (droppedSessions.has(session.id)) {
          countRejection(421);
          return callback(smtpError(421, '4.3.2 Connection dropped (the sink is set unavailable)'));
        }
        if (faultDraw < permFailRate) {
          countRejection(550);
          return callback(smtpError(550, '5.7.1 Message rejected by the sink (injected permanent failure)'));
        }
        if (faultDraw < permFailRate + tempFailRate) {
          countRejection(451);
          return callback(smtpError(451, '4.3.0 Temporary failure (injected), try again later'));
        }
        const acceptedAtMs = nowEpochMs();
        if (overRateLimit(performance.now())) {
          countRejection(451);
          return callback(smtpError(451, `4.7.0 Rate limit of ${maxMessagesPerSec} messages/s exceeded, try again later`));
        }
        if (maxMessagesPerSec > 0) acceptedTimes.push(performance.now());

        const raw = Buffer.concat(chunks);
        const headerEnd = raw.indexOf(HEADER_END);
        const headers = (headerEnd === -1 ? raw : raw.subarray(0, headerEnd)).toString('utf8');
        const body = headerEnd === -1 ? '' : raw.subarray(headerEnd + 4, headerEnd + 4 + MAX_BODY_KEPT).toString('utf8');
        const registrationId = readHeader(headers, 'X-Registration-Id');
        const record: SinkRecord = {
          messageId: readHeader(headers, 'Message-ID'),
          registrationId,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          recipients: session.envelope.rcptTo.map((r) => r.address),
          sizeBytes: size,
          acceptedAtMs,
          latencyMs: delayMs,
          headers,
          body,
        };
        counters.accepted += 1;
        counters.bytes += size;
        if (registrationId === null) {
          counters.unattributed += 1;
        } else {
          const seen = registrationCounts.get(registrationId) ?? 0;
          if (seen > 0) counters.duplicates += 1;
          registrationCounts.set(registrationId, seen + 1);
        }
        if (keepRecords) records.push(record);
        callback(null);
        events.emit('message', record);
      });
    });
  }

  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    hideSTARTTLS: true,
    closeTimeout: closeTimeoutMs,
    size: 10 * 1024 * 1024,
    onConnect(session, callback) {
      counters.connectionsTotal += 1;
      if (closed) {
        counters.refused += 1;
        return callback(smtpError(421, '4.3.2 Service shutting down'));
      }
      if (!available) {
        counters.refused += 1;
        countRejection(421);
        return callback(smtpError(421, '4.3.2 Service not available (the sink is set unavailable), try again later'));
      }
      if (maxConnections > 0 && activeSessions.size >= maxConnections) {
        counters.refused += 1;
        countRejection(421);
        return callback(smtpError(421, `4.7.0 Too many connections (limit ${maxConnections}), try again in a moment`));
      }
      activeSessions.add(session.id);
      counters.maxActive = Math.max(counters.maxActive, activeSessions.size);
      later(greetingDelayMs, () => callback());
    },
    onRcptTo(_address, _session, callback) {
      later(perRecipientDelayMs, () => callback());
    },
    onData: handleData,
    onClose(session) {
      activeSessions.delete(session.id);
    },
  });
  // Client misbehaviour (garbage, resets) surfaces here; it must never take the sink down.
  server.on('error', () => {});

  server.listen(requestedPort, host);
  await Promise.race([
    once(server.server, 'listening'),
    once(server.server, 'error').then(([err]) => {
      throw Object.assign(new Error(`smtp-sink could not listen on ${host}:${requestedPort}: ${(err as Error).message}`), {
        code: 'ERR_SINK_LISTEN',
      });
    }),
  ]);
  const port = (server.server.address() as AddressInfo).port;

  return {
    host,
    port,
    latency,
    stats,
    records: () => records,
    registrationCounts: () => registrationCounts,
    onMessage(listener) {
      events.on('message', listener);
      return () => events.off('message', listener);
    },
    setAvailable(value: boolean, options = {}) {
      available = value;
      if (!value && options.dropConnections) {
        for (const connection of server.connections) {
          droppedSessions.add(connection.session.id);
          connection.send(421, '4.3.2 Service not available (the sink is set unavailable), closing connection');
          connection.close();
        }
      }
    },
    waitFor(count, { timeoutMs }) {
      if (registrationCounts.size >= count) return Promise.resolve(stats());
      return new Promise<SinkStats>((resolve, reject) => {
        const onMsg = () => {
          if (registrationCounts.size >= count) {
            clearTimeout(timer);
            events.off('message', onMsg);
            resolve(stats());
          }
        };
        const timer = setTimeout(() => {
          events.off('message', onMsg);
          const have = registrationCounts.size;
          reject(
            Object.assign(
              new Error(
                `smtp-sink waited ${timeoutMs} ms for ${count} registrations: ${have} arrived, ${count - have} missing ` +
                  `(${counters.accepted} messages accepted, ${counters.unattributed} without X-Registration-Id, ` +
                  `${Object.values(counters.rejectedByCode).reduce((a, b) => a + b, 0)} rejected)`,
              ),
              { code: 'ERR_SINK_WAIT_TIMEOUT', arrived: have, missing: count - have },
            ),
          );
        }, timeoutMs);
        events.on('message', onMsg);
      });
    },
    async waitForIdle({ quietMs, timeoutMs }) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const quietFor = performance.now() - lastActivityMs;
        if (counters.inProgress === 0 && quietFor >= quietMs) return;
        if (performance.now() > deadline) {
          throw Object.assign(new Error(`smtp-sink did not become idle within ${timeoutMs} ms (${counters.inProgress} in progress)`), {
            code: 'ERR_SINK_NOT_IDLE',
          });
        }
        await new Promise((r) => setTimeout(r, Math.max(5, Math.min(50, quietMs - quietFor))));
      }
    },
    reset() {
      records = [];
      registrationCounts = new Map();
      acceptedTimes = [];
      counters = freshCounters();
      latencyRandom = createRandom(seed);
      faultRandom = createRandom(seed ^ 0x5bd1e995);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export { describeLatency };
