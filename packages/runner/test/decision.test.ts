/**
 * The verdict's first sentence decides: which strategy, up to which rate, at what cost; and it
 * never calls one strategy faster, or its limit higher, without the test behind it.
 */
import { describe, expect, it } from 'vitest';
import { decisionSentence, factsScore } from '../src/summary/decision.ts';
import type { BreakingPoint, SummaryRow } from '../src/shapes/run.ts';
import type { Subject } from '../src/shapes/scenario.ts';
import { isTwinLabel } from '../src/config/scenario.ts';
import { columnsFor } from '../src/summary/columns.ts';

function row(variant: Subject, avgMs: number, over: Partial<SummaryRow> = {}): SummaryRow {
  return {
    variant,
    label: variant,
    requests: 1000,
    repeats: 1,
    throughputPerSec: 16,
    avgFromSendMs: avgMs,
    avgFromIntendedMs: avgMs,
    p50Ms: avgMs,
    p99Ms: avgMs * 2,
    maxMs: avgMs * 3,
    sent: 1000,
    expectedResponses: 1000,
    errors: 0,
    timeouts: 0,
    emailsExpected: variant === 'no-email' ? 0 : 1000,
    emailsDelivered: variant === 'no-email' ? 0 : 1000,
    emailsLost: 0,
    emailsFailed: 0,
    emailsFailedButDeliveredLater: 0,
    emailsDuplicated: 0,
    deliveryLagP99Ms: 800,
    backlogMax: null,
    drainSec: null,
    valid: true,
    failed: 0,
    avgFromSendRangeMs: null,
    reference: null,
    ...over,
  };
}

const matrix = (rows: SummaryRow[], values: Record<string, number[]>) =>
  decisionSentence({
    rows,
    valuesAt: () => Object.entries(values).map(([label, v]) => ({ label, values: v })),
    breakingPoints: [],
    twins: new Set(['background-aa']),
    durationSec: 60,
  });

describe('the decision of a run of cells', () => {
  const rows = [
    row('no-email', 40),
    row('inline', 600),
    row('background', 50),
    row('background', 49, { label: 'background-aa' }),
    row('outbox', 56),
  ];
  it('with enough repeats: the slower strategy named with its p, the tied ones chosen by the facts', () => {
    const s = matrix(rows, {
      inline: [600, 610, 590, 605, 598, 602],
      background: [50, 52, 49, 51, 50, 53],
      outbox: [51, 55, 50, 53, 52, 54],
      'background-aa': [30, 31, 30, 31, 30, 31],
    }) as string;
    expect(s).toMatch(/^Decision at 16\.7\/s \(1000 sign-ups in 60 s\): send from `outbox`/);
    expect(s).toContain(
      'every e-mail delivered (p99 lag 800 ms); its e-mail is stored before the reply and survives a crash',
    );
    expect(s).toMatch(/Slower, by the U test: inline 601 ms \(p = 0\.0\d+\)/);
    expect(s).toContain('Not separated from it: background');
    // Neither the baseline nor the A/A twin is a candidate, however fast.
    expect(s).not.toContain('no-email');
    expect(s).not.toContain('background-aa');
  });
  it('with one repeat: nothing called slower, the choice said to be the facts’', () => {
    const s = matrix(rows, { inline: [600], background: [50], outbox: [56] }) as string;
    expect(s).not.toContain('Slower');
    expect(s).toContain('send from `outbox`');
    expect(s).toContain('with 1 repeat no test can tell their reply times apart');
  });
  it('a strategy that lost e-mail is not chosen, and said so', () => {
    const lossy = [
      row('background', 50, { emailsLost: 3, emailsDelivered: 997 }),
      row('inline', 600),
    ];
    const s = matrix(lossy, { background: [50], inline: [600] }) as string;
    expect(s).toContain('send from `inline`');
    expect(s).toContain('Did not keep every promise: background (3 e-mails lost)');
  });
  it('says when none kept every promise', () => {
    const s = matrix([row('inline', 9000, { timeouts: 5, expectedResponses: 995 })], {}) as string;
    expect(s).toMatch(/none of the strategies measured answered every sign-up/);
  });
  it('has nothing to decide without a strategy that sends e-mail', () => {
    expect(matrix([row('no-email', 40)], {})).toBeNull();
  });
  it("leaves out the A/A twins only: a --target's own label is a candidate", () => {
    const c10 = { factor: 'smtpConnections' as const, value: 10 };
    expect(isTwinLabel('background-aa', 'background', null)).toBe(true);
    expect(isTwinLabel('background-aa.c10', 'background', c10)).toBe(true);
    expect(isTwinLabel('inline.c10', 'inline', c10)).toBe(false);
    expect(isTwinLabel('my-api', 'external', null)).toBe(false);
  });
  it('orders the facts: durable before a reply that waits, before memory', () => {
    expect(factsScore('outbox')).toBeGreaterThan(factsScore('inline'));
    expect(factsScore('inline')).toBeGreaterThan(factsScore('background'));
  });
});

function bp(
  variant: Subject,
  limits: Array<{ http: number; mail: number | null; httpHi?: number; mailHi?: number | null }>,
): BreakingPoint {
  const searches = limits.map((l) => ({
    variant,
    label: variant,
    factor: null,
    sloP99Ms: 2000,
    mailShare: 0.95,
    httpMaxRatePerSec: l.http,
    httpBracket: { lo: l.http, hi: l.httpHi ?? l.http * 1.1 },
    mailMaxRatePerSec: l.mail,
    mailBracket: { lo: l.mail, hi: l.mail === null ? null : (l.mailHi ?? l.mail * 1.1) },
    limitedBy: 'slo' as const,
    mailLimitedBy: l.mail === null ? ('not-reached' as const) : ('share' as const),
    generatorCeilingPerSec: null,
    predicted: {
      connections: 5,
      latencyMs: 500,
      cores: 2,
      mailRatePerSec: 10,
      cpuMsPerRequest: 40,
      cpuRatePerSec: 50,
      httpRatePerSec: 50,
    },
  }));
  const first = searches[0]!;
  return {
    ...first,
    ...(searches.length > 1 ? { searches } : {}),
    checks: [],
    steps: [],
  };
}

describe('the decision of a breaking-point search', () => {
  const decide = (bps: BreakingPoint[]) =>
    decisionSentence({
      rows: [],
      valuesAt: () => [],
      breakingPoints: bps,
      twins: new Set(),
      durationSec: 20,
    }) as string;
  it('at 500 ms: e-mail bounds every strategy at c/L, so the facts choose, and the faster replies are named', () => {
    const three = (http: number, mail: number) => [
      { http, mail },
      { http, mail },
      { http, mail },
    ];
    const s = decide([bp('inline', three(10, 10)), bp('background', three(48, 10))]);
    expect(s).toMatch(
      /^Decision: send from `inline` up to 10\/s \(median of 3 searches\), where its e-mail falls behind \(the SMTP transport's c\/L is 10\/s/,
    );
    expect(s).toContain('Above it, `background` still answers within the SLO up to 48/s');
    expect(s).toContain('with 3 searches each no test can separate limits');
  });
  it('a strategy whose e-mail kept up at no step serves no rate, whatever its replies did', () => {
    // Agenda at 500 ms: its mail fell behind at every rate down to the lowest tried (the bracket
    // below 0.9/s), its replies held to 38-40/s without a bracket narrowed. It serves nothing.
    const never = (b: BreakingPoint): BreakingPoint => {
      const fell = (x: Omit<BreakingPoint, 'steps' | 'checks' | 'searches'>) => ({
        ...x,
        httpMaxRatePerSec: null,
        httpBracket: { lo: x.httpBracket.lo, hi: 53 },
        mailMaxRatePerSec: null,
        mailBracket: { lo: null, hi: 0.9 },
        mailLimitedBy: 'share' as const,
      });
      return { ...fell(b), searches: (b.searches ?? []).map(fell), checks: [], steps: [] };
    };
    const two = (http: number, mail: number | null) => [
      { http, mail },
      { http: http - 2, mail },
    ];
    const s = decide([never(bp('agenda', two(40, null))), bp('bullmq', two(52, 9.7))]);
    expect(s).toMatch(/^Decision: send from `bullmq` up to 9\.7\/s/);
    expect(s).not.toMatch(/send from `agenda`/);
    // Set apart, not listed among the strategies the test could not separate from the choice.
    expect(s).toContain(
      'Serving no rate tried (its e-mail kept up at no step, or its replies at none): agenda.',
    );
    expect(s).not.toMatch(/Not separated from it:[^.]*agenda/);
  });
  it('with enough searches a lower limit is named with its p', () => {
    const many = (http: number) =>
      Array.from({ length: 6 }, (_, k) => ({ http: http + k, mail: null }));
    const s = decide([bp('inline', many(10)), bp('outbox', many(40))]);
    expect(s).toMatch(
      /^Decision: send from `outbox` up to 42\.5\/s \(median of 6 searches\), where its replies break the p99 ≤ 2 s SLO/,
    );
    expect(s).toMatch(/Lower, by the U test: inline 12\.5\/s \(p = 0\.0\d+\)/);
  });
});

describe("the summary table's columns", () => {
  it('leave out the reference column where no row has a reference figure, and keep it where one has', () => {
    const title = 'reference avg, ms (other stack)';
    const without = columnsFor([row('inline', 600), row('background', 50)]).map((c) => c.title);
    expect(without).not.toContain(title);
    expect(without).toContain('valid');
    const one = row('inline', 600, { reference: { label: 'blocking', avgMs: 3100 } });
    const withRef = columnsFor([one, row('background', 50)]);
    expect(withRef.map((c) => c.title)).toContain(title);
    expect(withRef.at(-1)?.cell(one)).toBe('blocking 3100');
  });
});
