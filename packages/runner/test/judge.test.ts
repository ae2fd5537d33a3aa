/**
 * judgeCell on stored data: a good cell recorded by `pnpm bench` (fixtures/), and each bad case
 * built from it. Measurement findings make a cell invalid; system findings are results.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resultFromSamples, type Sample } from '@mailbench/loadgen';
import { countTimeouts } from '../src/judge/timeouts.ts';
import { judgeCell } from '../src/judge/judge.ts';
import { migrateCell } from '../src/results/migrate.ts';
import { capacityRows, rankVariants } from '../src/summary/summary.ts';
import type { CapacityResult } from '../src/shapes/results.ts';
import { evaluateThresholds } from '../src/judge/thresholds.ts';
import type { Scenario } from '../src/shapes/scenario.ts';
import type { CellResult } from '../src/shapes/results.ts';
import { parseThreshold } from '../src/config/thresholds.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
/** A cell recorded by pnpm bench (schema version 1), read as today's. */
const GOOD: CellResult = migrateCell(fixture('good-inline-cell.json'), undefined);
GOOD.emails.arrivedByAddress = GOOD.emails.delivered;
GOOD.emails.arrivedByRegistrationId = GOOD.emails.delivered;
const SCENARIO: Scenario = fixture('good-cell-scenario.json');

/** A deep copy of the good cell with some fields changed. */
function cell(change: (c: CellResult) => void): CellResult {
  const c = structuredClone(GOOD);
  change(c);
  return c;
}

/**
 * Every figure the runner derives from the samples, derived again (as the runner does) after a test
 * changed them.
 */
function fromSamples(c: CellResult): void {
  const s = c.samples!;
  const samples: Sample[] = s.status.map((status, i) => ({
    i,
    intendedMs: s.intendedMs[i]!,
    sentMs: s.sentMs[i]!,
    endMs: s.endMs[i]!,
    status,
    error: s.error[i] ?? null,
    bytes: 0,
  }));
  const run = resultFromSamples(samples, {
    t0EpochMs: 0,
    durationMs: c.durationSec * 1000,
    connection: c.connection,
    behindThresholdMs: 10,
    scheduler: 'worker-thread',
    connectionsAhead: { opened: 0, used: 0 },
  });
  const ok = samples.filter((x) => x.status >= 200 && x.status < 300).length;
  Object.assign(c, {
    statusCounts: run.statusCounts,
    errorCounts: run.errorCounts,
    expectedResponses: run.expectedResponses,
    latencyMs:
      run.expectedResponses > 0
        ? { fromIntended: run.latencyFromIntended, fromSend: run.latencyFromSend }
        : null,
    latencyAllMs: run.latencyAll,
    dispatchErrorMs: run.dispatchError,
    throughputPerSec: Math.round(run.throughputPerSec * 100) / 100,
    responsesPerSec: Math.round(run.responsesPerSec * 100) / 100,
    errors: c.requests - ok,
    timeouts: countTimeouts(run.errorCounts),
  });
  c.accounting.responses2xx = ok;
}

function codes(c: CellResult, scenario: Scenario = SCENARIO): string[] {
  return judgeCell(c, scenario).findings.map((f) => `${f.kind}:${f.code}`);
}

describe('judgeCell', () => {
  it('passes the good cell with no reason at all', () => {
    expect(GOOD.requests).toBe(100);
    expect(judgeCell(GOOD, SCENARIO)).toEqual({ valid: true, reasons: [], findings: [] });
  });

  it('every request answered 500 and no user stored: a system finding, the cell stays valid, and no latency', () => {
    const c = cell((c) => {
      c.samples!.status = c.samples!.status.map(() => 500);
      fromSamples(c);
      c.accounting.usersInDb = 0;
      Object.assign(c.emails, {
        expected: 0,
        delivered: 0,
        arrivedByAddress: 0,
        arrivedByRegistrationId: 0,
      });
    });
    const j = judgeCell(c, SCENARIO);
    expect(j.valid).toBe(true);
    expect(j.reasons).toContain('system: 100 of 100 requests got no 2xx (500: 100)');
    // Fast failures are not fast requests: there is no latency to pass a threshold with.
    expect(c.latencyMs).toBeNull();
    expect(
      evaluateThresholds([parseThreshold('p99<500ms'), parseThreshold('errors<1%')], c).map(
        (r) => r.passed,
      ),
    ).toEqual([false, false]);
  });

  it('background silently losing 60 of 100 e-mails without a fault', () => {
    const c = cell((c) => {
      c.variant = 'background';
      Object.assign(c.emails, { delivered: 40, lost: 60 });
    });
    expect(codes(c)).toEqual(['system:mail-lost']);
    expect(judgeCell(c, SCENARIO).reasons[0]).toBe('system: 60 of 100 owed e-mails silently lost');
  });

  it('a drain that timed out with 30 owed e-mails missing: invalid', () => {
    const c = cell((c) =>
      Object.assign(c.emails, { delivered: 70, lost: 30, drainTimedOut: true }),
    );
    expect(codes(c)).toEqual(['measurement:drain-timed-out', 'system:mail-lost']);
    expect(judgeCell(c, SCENARIO).valid).toBe(false);
  });

  it('inline with 90 of 100 e-mails reported failed, and no fault injected', () => {
    const c = cell((c) => Object.assign(c.emails, { delivered: 10, failed: 90 }));
    expect(codes(c)).toEqual(['system:mail-failed']);
    // In a scenario that injects SMTP faults, failures are its result, not a finding.
    expect(codes(c, { ...SCENARIO, smtp: { ...SCENARIO.smtp, tempFailRate: 0.5 } })).toEqual([]);
  });

  /** The cell with some requests sent late by `lateMs` (their answers as late). */
  const late = (indexes: number[], lateMs: number) =>
    cell((c) => {
      for (const i of indexes) {
        c.samples!.sentMs[i]! += lateMs;
        c.samples!.endMs[i]! += lateMs;
      }
      fromSamples(c);
    });

  it('a 2-second generator stall on one request (the p99 alone would not show it): invalid', () => {
    const c = late([50], 2000);
    expect(c.dispatchErrorMs!.p99).toBeLessThan(SCENARIO.behindThresholdMs);
    expect(codes(c)).toEqual(['measurement:generator-stalled']);
  });

  it('a generator behind at the p99: invalid', () => {
    const c = late([10, 20, 30], 150);
    expect(codes(c)).toEqual(['measurement:generator-behind']);
  });

  it('90 samples for 100 scheduled requests: invalid', () => {
    const c = cell((c) => {
      for (const column of Object.values(c.samples!)) (column as unknown[]).splice(90);
    });
    expect(codes(c)).toEqual(['measurement:samples-missing']);
  });

  it('requests cut off by the client timeout: latency censored, invalid, and the errors reported', () => {
    const c = cell((c) => {
      for (const i of [3, 13, 23, 33, 43]) {
        c.samples!.status[i] = 0;
        c.samples!.error[i] = 'ETIMEDOUT';
        c.samples!.endMs[i] = c.samples!.intendedMs[i]! + 10_000;
      }
      fromSamples(c);
      Object.assign(c.emails, { expected: 95, delivered: 95, deliveredNotOwed: 5 });
    });
    expect(codes(c)).toEqual([
      'measurement:latency-censored',
      'system:http-errors',
      'system:stray-users',
    ]);
  });

  it('stored figures that contradict the samples: each identity named', () => {
    const tampered: Array<[string, (c: CellResult) => void]> = [
      ['status-identity', (c) => (c.statusCounts = { '201': 99, '500': 1 })],
      ['error-identity', (c) => (c.errorCounts = { ECONNRESET: 1 })],
      ['2xx-identity', (c) => (c.accounting.responses2xx = 90)],
      ['errors-identity', (c) => (c.errors = 3)],
      ['timeouts-identity', (c) => (c.timeouts = 2)],
      ['expected-identity', (c) => (c.expectedResponses = 99)],
      [
        'summary-identity',
        (c) =>
          (c.latencyMs = {
            ...c.latencyMs!,
            fromIntended: { ...c.latencyMs!.fromIntended, mean: 1 },
          }),
      ],
      [
        'summary-identity',
        (c) => (c.dispatchErrorMs = { ...c.dispatchErrorMs!, p99: 0.001, max: 0.001 }),
      ],
      ['throughput-identity', (c) => (c.throughputPerSec = 99)],
      ['owed-identity', (c) => Object.assign(c.emails, { expected: 90, delivered: 90 })],
      ['attribution-identity', (c) => (c.emails.arrivedByRegistrationId = 99)],
      ['backlog-identity', (c) => (c.emails.backlogMax = 7)],
      ['users-identity', (c) => (c.accounting.usersInDb = 99)],
    ];
    for (const [code, change] of tampered) {
      const c = cell(change);
      expect(codes(c), code).toContain(`measurement:${code}`);
      expect(judgeCell(c, SCENARIO).valid, code).toBe(false);
    }
  });

  it('a failure report that could not be read: invalid, never read as lost mail', () => {
    const c = cell((c) => (c.emails.failureReport = 'unreadable'));
    expect(codes(c)).toEqual(['measurement:failure-report-unreadable']);
  });

  it('e-mails the server gave up on or still stores at shutdown are its own outcomes, not lost', () => {
    const c = cell((c) => {
      c.variant = 'background';
      Object.assign(c.emails, {
        delivered: 70,
        abandoned: 20,
        held: 10,
        arrivedByAddress: 70,
        arrivedByRegistrationId: 70,
      });
    });
    expect(codes(c)).toEqual(['system:mail-abandoned', 'system:mail-held']);
    expect(judgeCell(c, SCENARIO).reasons[0]).toContain(
      '20 of 100 owed e-mails abandoned at shutdown',
    );
  });

  it('outcomes that do not add up to what was owed: invalid', () => {
    const c = cell((c) => Object.assign(c.emails, { delivered: 100, lost: 5 }));
    expect(codes(c)).toContain('measurement:mail-identity');
  });

  it('duplicates: a finding for a variant that sends once, none for the at-least-once outbox', () => {
    const dup = cell((c) => Object.assign(c.emails, { duplicated: 3 }));
    expect(codes(dup)).toEqual(['system:mail-duplicated']);
    expect(codes({ ...dup, variant: 'outbox' })).toEqual([]);
  });

  it('a failed cell is invalid with its error', () => {
    const c = cell((c) => {
      c.status = 'failed';
      c.error = 'the API server exited during the cell (code 1, signal null)';
    });
    expect(judgeCell(c, SCENARIO)).toMatchObject({
      valid: false,
      reasons: [
        'measurement: cell failed: the API server exited during the cell (code 1, signal null)',
      ],
    });
  });
});

describe('ranking variants across repeats', () => {
  it('orders by median; "<" only where the U test (Holm over the neighbours) finds a real difference', () => {
    const r = rankVariants(10, [
      { label: 'inline', values: [78, 80, 83, 79, 81, 82] },
      { label: 'background', values: [53, 55, 57, 54, 56, 58] },
      { label: 'outbox', values: [55, 56, 60, 54, 57, 59] },
      { label: 'no-email', values: [49, 50, 51, 48, 47, 46] },
    ]);
    // background vs no-email: fully separated, 10 % apart: "<"; background vs outbox overlap: "~".
    expect(r).toEqual({
      requests: 10,
      metric: 'avgFromSendMs',
      n: 6,
      order: 'no-email < background ~ outbox < inline',
    });
    // Separated but only 2 % apart: not a difference worth the name.
    expect(
      rankVariants(10, [
        { label: 'a', values: [100, 100.5, 101, 100.2, 100.7, 100.9] },
        { label: 'b', values: [102, 102.5, 103, 102.2, 102.7, 102.9] },
      ]).order,
    ).toBe('a ~ b');
  });

  it('claims no order where no test could: single repeats, or three each (smallest p 0.1)', () => {
    for (const [a, b] of [
      [[80], [55]],
      [
        [78, 80, 83],
        [53, 55, 57],
      ],
    ] as Array<[number[], number[]]>) {
      expect(
        rankVariants(10, [
          { label: 'inline', values: a },
          { label: 'background', values: b },
        ]).order,
      ).toBeNull();
    }
  });
});

describe('repeated capacity probes', () => {
  const probe = (variant: string, requestsPerSec: number, status: 'ok' | 'failed' = 'ok') =>
    ({
      variant,
      requestsPerSec,
      status,
      errors: 0,
      latencyMs: { p99: requestsPerSec / 10 },
    }) as unknown as CapacityResult;

  it('one row per variant: the median of its probes, their range and count; a failed probe fails the row', () => {
    const rows = capacityRows([
      probe('inline', 40),
      probe('background', 90),
      probe('inline', 46),
      probe('background', 80),
      probe('inline', 43),
      probe('background', 0, 'failed'),
    ]);
    expect(rows[0]).toMatchObject({
      variant: 'inline',
      requestsPerSec: 43,
      repeats: 3,
      range: [40, 46],
      status: 'ok',
      p99Ms: 4.3,
    });
    expect(rows[1]).toMatchObject({
      variant: 'background',
      requestsPerSec: 85,
      repeats: 3,
      range: [80, 90],
      status: 'failed',
    });
    // A single probe is a single row, as before.
    expect(capacityRows([probe('inline', 40)])[0]).toEqual({
      variant: 'inline',
      requestsPerSec: 40,
      p99Ms: 4,
      errors: 0,
      status: 'ok',
    });
  });
});

describe('thresholds', () => {
  it('parses [LABEL:]METRIC OP VALUE[UNIT] and names what is wrong', () => {
    expect(parseThreshold('inline:p99<2s')).toEqual({
      expr: 'inline:p99<2s',
      label: 'inline',
      metric: 'p99',
      op: '<',
      value: 2000,
      percent: false,
    });
    expect(parseThreshold('errors<1%')).toMatchObject({
      metric: 'errors',
      value: 0.01,
      percent: true,
    });
    expect(parseThreshold('lost==0')).toMatchObject({ metric: 'lost', op: '==', value: 0 });
    expect(() => parseThreshold('p99 is small')).toThrow(/not understood/);
    expect(() => parseThreshold('speed<5')).toThrow(/unknown metric "speed"/);
    expect(() => parseThreshold('p99<5%')).toThrow(/latency takes ms or s/);
    expect(() => parseThreshold('lost<5ms')).toThrow(/lost is a count/);
  });

  it('evaluates on the cells they name, in their unit', () => {
    const p99 = GOOD.latencyMs!.fromIntended.p99;
    expect(evaluateThresholds([parseThreshold(`p99<${Math.ceil(p99 + 1)}ms`)], GOOD)).toEqual([
      {
        expr: `p99<${Math.ceil(p99 + 1)}ms`,
        passed: true,
        actual: Math.round(p99 * 100) / 100,
        note: null,
      },
    ]);
    expect(evaluateThresholds([parseThreshold('p99<1ms')], GOOD)[0]?.passed).toBe(false);
    expect(evaluateThresholds([parseThreshold('outbox:p99<1ms')], GOOD)).toEqual([]); // names another variant
    const lossy = cell((c) => Object.assign(c.emails, { delivered: 98, lost: 2 }));
    expect(
      evaluateThresholds([parseThreshold('lost<1%'), parseThreshold('lost<=2')], lossy).map((r) => [
        r.passed,
        r.actual,
      ]),
    ).toEqual([
      [false, 2],
      [true, 2],
    ]);
  });

  it('never lets a latency censored by timeouts pass a "less than"', () => {
    const censored = cell((c) => {
      c.timeouts = 1;
    });
    expect(evaluateThresholds([parseThreshold('max<60s')], censored)[0]).toMatchObject({
      passed: false,
      note: expect.stringContaining('timeouts'),
    });
  });
});
