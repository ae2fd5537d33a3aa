/**
 * judgeCell on stored data: a good cell recorded by `pnpm bench` (fixtures/), and each bad case
 * built from it. Measurement findings make a cell invalid; system findings are results.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { judgeCell } from '../src/judge.ts';
import type { CellResult } from '../src/results.ts';
import type { Scenario } from '../src/scenario.ts';
import { rankVariants } from '../src/summary.ts';
import { evaluateThresholds, parseThreshold } from '../src/thresholds.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const GOOD: CellResult = fixture('good-inline-cell.json');
const SCENARIO: Scenario = fixture('good-cell-scenario.json');

/** A deep copy of the good cell with some fields changed. */
function cell(change: (c: CellResult) => void): CellResult {
  const c = structuredClone(GOOD);
  change(c);
  return c;
}

function codes(c: CellResult, scenario: Scenario = SCENARIO): string[] {
  return judgeCell(c, scenario).findings.map((f) => `${f.kind}:${f.code}`);
}

describe('judgeCell', () => {
  it('passes the good cell with no reason at all', () => {
    expect(GOOD.requests).toBe(100);
    expect(judgeCell(GOOD, SCENARIO)).toEqual({ valid: true, reasons: [], findings: [] });
  });

  it('every request answered 500 and no user stored: a system finding, the cell stays valid', () => {
    const c = cell((c) => {
      c.statusCounts = { '500': 100 };
      c.samples!.status = c.samples!.status.map(() => 500);
      c.errors = 100;
      c.accounting.responses2xx = 0;
      c.accounting.usersInDb = 0;
      Object.assign(c.emails, { expected: 0, delivered: 0 });
    });
    const j = judgeCell(c, SCENARIO);
    expect(j.valid).toBe(true);
    expect(j.reasons).toContain('system: 100 of 100 requests got no 2xx (500: 100)');
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
    const c = cell((c) => Object.assign(c.emails, { delivered: 70, lost: 30, drainTimedOut: true }));
    expect(codes(c)).toEqual(['measurement:drain-timed-out', 'system:mail-lost']);
    expect(judgeCell(c, SCENARIO).valid).toBe(false);
  });

  it('inline with 90 of 100 e-mails reported failed, and no fault injected', () => {
    const c = cell((c) => Object.assign(c.emails, { delivered: 10, failed: 90 }));
    expect(codes(c)).toEqual(['system:mail-failed']);
    // In a scenario that injects SMTP faults, failures are its result, not a finding.
    expect(codes(c, { ...SCENARIO, smtp: { ...SCENARIO.smtp, tempFailRate: 0.5 } })).toEqual([]);
  });

  it('a 2-second generator stall on 3 requests (the p99 alone would not show it): invalid', () => {
    const c = cell((c) => {
      c.dispatchErrorMs = { ...c.dispatchErrorMs!, max: 2000 };
    });
    expect(c.dispatchErrorMs!.p99).toBeLessThan(SCENARIO.behindThresholdMs);
    expect(codes(c)).toEqual(['measurement:generator-stalled']);
  });

  it('a generator behind at the p99: invalid', () => {
    const c = cell((c) => {
      c.dispatchErrorMs = { ...c.dispatchErrorMs!, p99: 150, max: 150 };
      c.generatorBehind = true;
    });
    expect(codes(c)).toEqual(['measurement:generator-behind']);
  });

  it('90 samples for 100 scheduled requests: invalid', () => {
    const c = cell((c) => {
      for (const column of Object.values(c.samples!)) (column as unknown[]).splice(90);
    });
    // The status counts still tally 100 answers: that identity is broken too.
    expect(codes(c)).toEqual(['measurement:samples-missing', 'measurement:status-identity']);
  });

  it('requests cut off by the client timeout: latency censored, invalid, and the errors reported', () => {
    const c = cell((c) => {
      c.statusCounts = { '201': 95 };
      c.errorCounts = { ETIMEDOUT: 5 };
      c.errors = 5;
      c.timeouts = 5;
      c.accounting.responses2xx = 95;
      Object.assign(c.emails, { expected: 95, delivered: 95, deliveredNotOwed: 5 });
    });
    expect(codes(c)).toEqual(['measurement:latency-censored', 'system:http-errors', 'system:stray-users']);
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
    expect(judgeCell(c, SCENARIO)).toMatchObject({ valid: false, reasons: ['measurement: cell failed: the API server exited during the cell (code 1, signal null)'] });
  });
});

describe('ranking variants across repeats', () => {
  it('orders by median and says "~" where the ranges overlap or the medians are within 5 %', () => {
    const r = rankVariants(10, [
      { label: 'inline', values: [78, 80, 83] },
      { label: 'background', values: [53, 55, 57] },
      { label: 'outbox', values: [55, 56, 60] },
      { label: 'no-email', values: [49, 50, 51] },
    ]);
    // background vs no-email: disjoint ranges, but 10 % apart: "<"; background vs outbox overlap: "~".
    expect(r).toEqual({ requests: 10, metric: 'avgFromSendMs', n: 3, order: 'no-email < background ~ outbox < inline' });
    // Disjoint but only 2 % apart: not detectable either.
    expect(rankVariants(10, [{ label: 'a', values: [100, 100.5, 101] }, { label: 'b', values: [102, 102.5, 103] }]).order).toBe('a ~ b');
  });

  it('claims no order from single repeats', () => {
    expect(rankVariants(10, [{ label: 'inline', values: [80] }, { label: 'background', values: [55] }]).order).toBeNull();
  });
});

describe('thresholds', () => {
  it('parses [LABEL:]METRIC OP VALUE[UNIT] and names what is wrong', () => {
    expect(parseThreshold('inline:p99<2s')).toEqual({ expr: 'inline:p99<2s', label: 'inline', metric: 'p99', op: '<', value: 2000, percent: false });
    expect(parseThreshold('errors<1%')).toMatchObject({ metric: 'errors', value: 0.01, percent: true });
    expect(parseThreshold('lost==0')).toMatchObject({ metric: 'lost', op: '==', value: 0 });
    expect(() => parseThreshold('p99 is small')).toThrow(/not understood/);
    expect(() => parseThreshold('speed<5')).toThrow(/unknown metric "speed"/);
    expect(() => parseThreshold('p99<5%')).toThrow(/latency takes ms or s/);
    expect(() => parseThreshold('lost<5ms')).toThrow(/lost is a count/);
  });

  it('evaluates on the cells they name, in their unit', () => {
    const p99 = GOOD.latencyMs!.fromIntended.p99;
    expect(evaluateThresholds([parseThreshold(`p99<${Math.ceil(p99 + 1)}ms`)], GOOD)).toEqual([{ expr: `p99<${Math.ceil(p99 + 1)}ms`, passed: true, actual: Math.round(p99 * 100) / 100, note: null }]);
    expect(evaluateThresholds([parseThreshold('p99<1ms')], GOOD)[0]?.passed).toBe(false);
    expect(evaluateThresholds([parseThreshold('outbox:p99<1ms')], GOOD)).toEqual([]); // names another variant
    const lossy = cell((c) => Object.assign(c.emails, { delivered: 98, lost: 2 }));
    expect(evaluateThresholds([parseThreshold('lost<1%'), parseThreshold('lost<=2')], lossy).map((r) => [r.passed, r.actual])).toEqual([[false, 2], [true, 2]]);
  });

  it('never lets a latency censored by timeouts pass a "less than"', () => {
    const censored = cell((c) => {
      c.timeouts = 1;
    });
    expect(evaluateThresholds([parseThreshold('max<60s')], censored)[0]).toMatchObject({ passed: false, note: expect.stringContaining('timeouts') });
  });
});
