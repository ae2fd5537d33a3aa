/** What the sink has seen: every accepted message, counters, registrations and the rate window. */
import { performance } from 'node:perf_hooks';
import type { SinkRecord, SinkStats } from './types.ts';

function freshCounters(activeNow: number, inProgressNow: number) {
  return {
    connectionsTotal: 0,
    maxActive: activeNow,
    refused: 0,
    accepted: 0,
    rejectedByCode: {} as Record<string, number>,
    /** Messages whose data has ended and whose latency is still running: a reset keeps them. */
    inProgress: inProgressNow,
    bytes: 0,
    duplicates: 0,
    unattributed: 0,
  };
}

export class SinkLedger {
  readonly activeSessions = new Set<string>();
  records: SinkRecord[] = [];
  registrationCounts = new Map<string, number>();
  counters = freshCounters(0, 0);
  lastActivityMs = performance.now();
  /** Acceptance times within the last second, for the messages-per-second limit. */
  private acceptedTimes: number[] = [];
  private readonly keepRecords: boolean;
  private readonly maxMessagesPerSec: number;

  constructor(keepRecords: boolean, maxMessagesPerSec: number) {
    this.keepRecords = keepRecords;
    this.maxMessagesPerSec = maxMessagesPerSec;
  }

  connectionOpened(sessionId: string): void {
    this.activeSessions.add(sessionId);
    this.counters.maxActive = Math.max(this.counters.maxActive, this.activeSessions.size);
  }

  countRejection(code: number): void {
    const key = String(code);
    this.counters.rejectedByCode[key] = (this.counters.rejectedByCode[key] ?? 0) + 1;
  }

  /** True when one more message would exceed the per-second limit (the caller answers 451). */
  overRateLimit(): boolean {
    if (this.maxMessagesPerSec === 0) return false;
    const now = performance.now();
    while (this.acceptedTimes.length > 0 && (this.acceptedTimes[0] ?? 0) <= now - 1000)
      this.acceptedTimes.shift();
    return this.acceptedTimes.length >= this.maxMessagesPerSec;
  }

  accept(record: SinkRecord): void {
    if (this.maxMessagesPerSec > 0) this.acceptedTimes.push(performance.now());
    this.counters.accepted += 1;
    this.counters.bytes += record.sizeBytes;
    if (record.registrationId === null) {
      this.counters.unattributed += 1;
    } else {
      const seen = this.registrationCounts.get(record.registrationId) ?? 0;
      if (seen > 0) this.counters.duplicates += 1;
      this.registrationCounts.set(record.registrationId, seen + 1);
    }
    if (this.keepRecords) this.records.push(record);
  }

  rejectedTotal(): number {
    return Object.values(this.counters.rejectedByCode).reduce((a, b) => a + b, 0);
  }

  stats(): SinkStats {
    const c = this.counters;
    return {
      connections: {
        total: c.connectionsTotal,
        active: this.activeSessions.size,
        maxActive: c.maxActive,
        refused: c.refused,
      },
      messages: {
        accepted: c.accepted,
        rejected: this.rejectedTotal(),
        rejectedByCode: { ...c.rejectedByCode },
        inProgress: c.inProgress,
        bytes: c.bytes,
      },
      registrations: this.registrationCounts.size,
      duplicates: c.duplicates,
      unattributed: c.unattributed,
    };
  }

  /**
   * Forgets every record and counter, but not what is still happening: open connections stay
   * counted as active and messages inside their latency stay in progress (each one ends later and
   * counts itself down; forgetting it would take the counter below zero and hide real activity).
   */
  reset(): void {
    this.records = [];
    this.registrationCounts = new Map();
    this.acceptedTimes = [];
    this.counters = freshCounters(this.activeSessions.size, this.counters.inProgress);
  }
}
