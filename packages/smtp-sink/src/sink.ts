/**
 * startSmtpSink(): the public handle of the fake SMTP server. Its parts: options.ts (defaults and
 * checks), draws.ts (seeded latency and fault draws), ledger.ts (records and counters),
 * session.ts (the SMTP handlers).
 */
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SMTPServer } from 'smtp-server';
import { createDraws } from './draws.ts';
import { validateLatency, type LatencySpec } from './latency.ts';
import { SinkLedger } from './ledger.ts';
import { resolveSinkOptions } from './options.ts';
import { PromptSMTPServer } from './prompt-server.ts';
import type { SinkRecord, SinkStats, SmtpSinkOptions } from './types.ts';
import { createSessionHandlers, type SinkState } from './session.ts';

export { readHeader } from './session.ts';
export type { SinkRecord, SinkStats, SmtpSinkOptions } from './types.ts';

export interface WaitForOptions {
  timeoutMs: number;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  /** The latency model in force, for reports. */
  readonly latency: LatencySpec;
  /** The delay before each greeting. */
  readonly greetingDelayMs: number;
  stats(): SinkStats;
  /** Every accepted message, in order of acceptance (empty when keepRecords is false). */
  records(): readonly SinkRecord[];
  /** Registration id → how many messages carried it. */
  registrationCounts(): ReadonlyMap<string, number>;
  /**
   * Resolves when `count` distinct registrations have arrived; rejects on timeout naming what is
   * missing.
   */
  waitFor(count: number, options: WaitForOptions): Promise<SinkStats>;
  /** Resolves when no message is in progress and none arrived for `quietMs`. */
  waitForIdle(options: { quietMs: number; timeoutMs: number }): Promise<void>;
  /**
   * While false, every new connection is refused with 421 (a provider outage). With
   * `dropConnections`, open connections are also cut (421, then closed), and messages whose
   * reply was pending on them are not accepted.
   */
  setAvailable(available: boolean, options?: { dropConnections?: boolean }): void;
  /** Another latency model for the messages that follow (those already waiting keep their draw). */
  setLatency(latency: LatencySpec | number): void;
  /** Forgets every record and counter (open connections stay counted as active). */
  reset(): void;
  close(): Promise<void>;
}

async function listen(server: SMTPServer, host: string, port: number): Promise<number> {
  server.listen(port, host);
  await Promise.race([
    once(server.server, 'listening'),
    once(server.server, 'error').then(([err]) => {
      throw Object.assign(
        new Error(`smtp-sink could not listen on ${host}:${port}: ${(err as Error).message}`),
        { code: 'ERR_SINK_LISTEN' },
      );
    }),
  ]);
  return (server.server.address() as AddressInfo).port;
}

function waitForRegistrations(
  ledger: SinkLedger,
  events: EventEmitter,
  count: number,
  timeoutMs: number,
): Promise<SinkStats> {
  if (ledger.registrationCounts.size >= count) return Promise.resolve(ledger.stats());
  return new Promise<SinkStats>((resolve, reject) => {
    const onMsg = () => {
      if (ledger.registrationCounts.size < count) return;
      clearTimeout(timer);
      events.off('message', onMsg);
      resolve(ledger.stats());
    };
    const timer = setTimeout(() => {
      events.off('message', onMsg);
      const have = ledger.registrationCounts.size;
      const c = ledger.counters;
      const message =
        `smtp-sink waited ${timeoutMs} ms for ${count} registrations: ${have} arrived, ${count - have} missing ` +
        `(${c.accepted} messages accepted, ${c.unattributed} without X-Registration-Id, ${ledger.rejectedTotal()} rejected)`;
      reject(
        Object.assign(new Error(message), {
          code: 'ERR_SINK_WAIT_TIMEOUT',
          arrived: have,
          missing: count - have,
        }),
      );
    }, timeoutMs);
    events.on('message', onMsg);
  });
}

async function waitForQuiet(ledger: SinkLedger, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const quietFor = performance.now() - ledger.lastActivityMs;
    if (ledger.counters.inProgress === 0 && quietFor >= quietMs) return;
    if (performance.now() > deadline) {
      throw Object.assign(
        new Error(
          `smtp-sink did not become idle within ${timeoutMs} ms (${ledger.counters.inProgress} in progress)`,
        ),
        { code: 'ERR_SINK_NOT_IDLE' },
      );
    }
    await new Promise((r) => setTimeout(r, Math.max(5, Math.min(50, quietMs - quietFor))));
  }
}

export async function startSmtpSink(input: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const options = resolveSinkOptions(input);
  const events = new EventEmitter();
  const ledger = new SinkLedger(options.keepRecords, options.maxMessagesPerSec);
  const draws = createDraws(options);
  const timers = new Set<NodeJS.Timeout>();
  const state: SinkState = {
    available: true,
    closed: false,
    droppedSessions: new Set(),
    later(delayMs, fn) {
      if (delayMs <= 0) return fn();
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, delayMs);
      timers.add(timer);
    },
    onAccepted: (record) => events.emit('message', record),
  };
  const server = new PromptSMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    hideSTARTTLS: true,
    closeTimeout: options.closeTimeoutMs,
    size: 10 * 1024 * 1024,
    ...createSessionHandlers(options, ledger, draws, state),
  });
  // Client misbehaviour (garbage, resets) surfaces here; it must never take the sink down.
  server.on('error', () => {});
  const port = await listen(server, options.host, options.port);

  return {
    host: options.host,
    port,
    get latency() {
      return draws.latency;
    },
    greetingDelayMs: options.greetingDelayMs,
    stats: () => ledger.stats(),
    records: () => ledger.records,
    registrationCounts: () => ledger.registrationCounts,
    setAvailable(value: boolean, opts = {}) {
      state.available = value;
      if (value || !opts.dropConnections) return;
      for (const connection of server.connections) {
        state.droppedSessions.add(connection.session.id);
        connection.send(
          421,
          '4.3.2 Service not available (the sink is set unavailable), closing connection',
        );
        connection.close();
      }
    },
    setLatency(latency) {
      draws.setLatency(validateLatency(latency));
    },
    waitFor: (count, { timeoutMs }) => waitForRegistrations(ledger, events, count, timeoutMs),
    waitForIdle: ({ quietMs, timeoutMs }) => waitForQuiet(ledger, quietMs, timeoutMs),
    reset() {
      ledger.reset();
      draws.reset();
    },
    async close() {
      if (state.closed) return;
      state.closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
