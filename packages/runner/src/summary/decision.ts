/**
 * The run's decision, its verdict's first sentence: which e-mail strategy to use, up to which rate,
 * and what it costs (reply time, e-mail lag, what a crash does to its mail), from the run's data
 * and the registry's facts. A strategy is called slower, or its limit lower, only where the test
 * behind compare.ts says so; where the repeats cannot test, the choice among the candidates falls
 * to the facts and the sentence says that it did.
 */
import { subjectFacts } from '../config/subjects.ts';
import type { Subject } from '../shapes/scenario.ts';
import type { BreakingPoint, SummaryRow } from '../shapes/run.ts';
import { compareAll, compareSamples, median, type Comparison } from './compare.ts';
import { repeatsToTest } from './stats.ts';

/**
 * How the registry's facts order strategies whose measurements do not separate them: the e-mail
 * stored durably before a reply that does not wait for SMTP first, then a reply that waits for the
 * send (nothing lost, but slow SMTP is the reply's), then e-mail held in memory (lost with the
 * process).
 */
export function factsScore(subject: Subject): number {
  const f = subjectFacts(subject);
  if (!f.sendsMail) return 0;
  if (f.promisesDelivery && !f.repliesAfterSend) return 3;
  if (f.promisesDelivery) return 2;
  return 1;
}

/**
 * What a crash of the API does to a strategy's e-mail, from the registry: nothing confirmed is
 * lost where the reply waits for the send; stored e-mail survives (`twice`: it may arrive twice);
 * e-mail queued in memory is lost. The decision's sentence and the docs' table word it each.
 */
export function crashFate(subject: Subject): 'reply-waits' | 'stored' | 'stored-twice' | 'memory' {
  const f = subjectFacts(subject);
  if (f.repliesAfterSend) return 'reply-waits';
  if (f.promisesDelivery) return f.mayDuplicate ? 'stored-twice' : 'stored';
  return 'memory';
}

export function crashCost(subject: Subject): string {
  const fate = crashFate(subject);
  if (fate === 'reply-waits')
    return 'its reply waits for the SMTP send, so a crash loses no confirmed e-mail';
  if (fate !== 'memory')
    return `its e-mail is stored before the reply and survives a crash${fate === 'stored-twice' ? ' (it may then arrive twice)' : ''}`;
  return 'e-mail still queued in its memory is lost if the process dies';
}

function ms(v: number): string {
  return v >= 1000 ? `${Number((v / 1000).toFixed(1))} s` : `${Math.round(v)} ms`;
}

function rate(v: number): string {
  return `${Math.round(v * 10) / 10}/s`;
}

function pOf(c: Comparison): string {
  return c.p === null ? 'untested' : `p = ${c.p < 0.001 ? '< 0.001' : c.p.toFixed(3)}`;
}

/**
 * The best of the candidates by the median of their values (`lower` or higher is better), each
 * other one compared with it (U test, Holm over these comparisons): those the test calls worse,
 * and those it does not separate from the best. The choice is the best unless the registry's facts
 * prefer one it is not separated from.
 */
function choose<T extends { variant: Subject }>(
  candidates: T[],
  valuesOf: (c: T) => number[],
  better: 'lower' | 'higher',
): {
  choice: T;
  worse: Array<{ item: T; comparison: Comparison }>;
  notSeparated: T[];
  comparisons: Comparison[];
  /** The fewest values any candidate has. */
  n: number;
} {
  const sign = better === 'lower' ? 1 : -1;
  const ranked = [...candidates].sort((a, b) => sign * (median(valuesOf(a)) - median(valuesOf(b))));
  const best = ranked[0] as T;
  const others = ranked.slice(1);
  const comparisons = compareAll(others.map((c) => compareSamples(valuesOf(best), valuesOf(c))));
  const worse = others
    .map((item, k) => ({ item, comparison: comparisons[k] as Comparison }))
    .filter((w) => w.comparison.verdict === 'real');
  const tied = [best, ...others.filter((_, k) => comparisons[k]?.verdict !== 'real')];
  const choice = [...tied].sort((a, b) => factsScore(b.variant) - factsScore(a.variant))[0] as T;
  return {
    choice,
    worse,
    notSeparated: tied.filter((c) => c !== choice),
    comparisons,
    n: Math.min(...candidates.map((c) => valuesOf(c).length)),
  };
}

export interface DecisionInput {
  /** The summary's rows (every request count); the decision reads the highest measured. */
  rows: SummaryRow[];
  /** Each label's avg from send per valid repeat, at that request count. */
  valuesAt: (requests: number) => Array<{ label: string; values: number[] }>;
  breakingPoints: BreakingPoint[];
  /** The A/A twins' labels (copies of a variant, never candidates). */
  twins: Set<string>;
  durationSec: number;
}

/** The decision sentence; null where nothing that sends e-mail was measured. */
export function decisionSentence(input: DecisionInput): string | null {
  const bps = input.breakingPoints.filter(
    (b) => !input.twins.has(b.label) && subjectFacts(b.variant).sendsMail,
  );
  if (bps.length > 0) return breakingPointDecision(bps);
  return matrixDecision(input);
}

function matrixDecision(input: DecisionInput): string | null {
  const measured = input.rows.filter(
    (r) =>
      !input.twins.has(r.label) && subjectFacts(r.variant).sendsMail && r.avgFromSendMs !== null,
  );
  if (measured.length === 0) return null;
  const requests = Math.max(...measured.map((r) => r.requests));
  const rows = measured.filter((r) => r.requests === requests);
  const at = `at ${rate(requests / input.durationSec)} (${requests} sign-ups in ${input.durationSec} s)`;
  const kept = (r: SummaryRow) =>
    r.valid &&
    r.expectedResponses === r.sent &&
    r.timeouts === 0 &&
    r.emailsLost + r.emailsFailed === 0 &&
    r.emailsDelivered >= r.emailsExpected;
  const pool = rows.filter(kept);
  const broke = rows
    .filter((r) => !kept(r))
    .map((r) => `${r.label} ${brokenPromise(r)}`)
    .join('; ');
  if (pool.length === 0)
    return `Decision ${at}: none of the strategies measured answered every sign-up and delivered every e-mail (${broke}); see the findings below.`;
  const values = new Map(input.valuesAt(requests).map((e) => [e.label, e.values]));
  const valuesOf = (r: SummaryRow) => values.get(r.label) ?? [r.avgFromSendMs as number];
  const { choice, worse, notSeparated, comparisons, n } = choose(pool, valuesOf, 'lower');
  const lag = choice.deliveryLagP99Ms !== null ? ` (p99 lag ${ms(choice.deliveryLagP99Ms)})` : '';
  const parts = [
    `Decision ${at}: send from \`${choice.label}\` — replies in ${ms(median(valuesOf(choice)))} on average${n > 1 ? ` (median of ${n})` : ''}, every e-mail delivered${lag}; ${crashCost(choice.variant)}.`,
  ];
  if (worse.length > 0)
    parts.push(
      `Slower, by the U test: ${worse
        .map(
          ({ item, comparison }) =>
            `${item.label} ${ms(median(valuesOf(item)))} (${pOf(comparison)})`,
        )
        .join(', ')}.`,
    );
  if (notSeparated.length > 0) {
    const why =
      n <= 3 || comparisons.every((c) => c.p === null)
        ? `with ${n} repeat${n === 1 ? '' : 's'} no test can tell their reply times apart (run --repeats ${repeatsToTest(comparisons.length)} or more), so the registry's facts chose`
        : 'no test tells their reply times apart, so the registry\u2019s facts chose';
    parts.push(
      `Not separated from it: ${notSeparated.map((r) => `${r.label} ${ms(median(valuesOf(r)))}`).join(', ')}; ${why}.`,
    );
  }
  if (broke) parts.push(`Did not keep every promise: ${broke}.`);
  return parts.join(' ');
}

function brokenPromise(r: SummaryRow): string {
  const out: string[] = [];
  if (!r.valid) out.push('invalid measurement');
  if (r.expectedResponses < r.sent)
    out.push(`${r.sent - r.expectedResponses} of ${r.sent} replies failed`);
  if (r.emailsLost > 0) out.push(`${r.emailsLost} e-mails lost`);
  if (r.emailsFailed > 0) out.push(`${r.emailsFailed} e-mails failed`);
  if (out.length === 0 && r.emailsDelivered < r.emailsExpected)
    out.push(`${r.emailsExpected - r.emailsDelivered} e-mails not delivered`);
  return `(${out.join(', ')})`;
}

/**
 * The rate up to which a strategy serves a sign-up fully (its reply within the SLO and its e-mail
 * kept up), per search: the lower of its two limits; a limit no step reached counts as the highest
 * rate that passed, and e-mail that kept up at no step serves no rate (0).
 */
function servedPerSearch(bp: BreakingPoint): number[] {
  return searchesOf(bp).map((s) => {
    const http = httpHeld(s);
    return s.mailBracket.hi === null
      ? http
      : Math.min(http, s.mailMaxRatePerSec ?? s.mailBracket.lo ?? 0);
  });
}

type Search = Omit<BreakingPoint, 'steps' | 'checks' | 'searches'>;

/** A search's highest rate whose replies held, narrowed or not (0: none did). */
function httpHeld(s: Search): number {
  return s.httpMaxRatePerSec ?? s.httpBracket.lo ?? 0;
}

/** The searches of an entry (itself when it was searched once). */
function searchesOf(bp: BreakingPoint): Search[] {
  return bp.searches && bp.searches.length > 0 ? bp.searches : [bp];
}

/** The median over the searches of the highest rate whose replies held, narrowed or not. */
function httpFloor(bp: BreakingPoint): number {
  return median(searchesOf(bp).map(httpHeld));
}

/** The same for the e-mail: the highest rate whose mail kept up. */
function mailFloor(bp: BreakingPoint): number {
  return median(searchesOf(bp).map((s) => s.mailMaxRatePerSec ?? s.mailBracket.lo ?? 0));
}

function breakingPointDecision(all: BreakingPoint[]): string {
  const served = new Map(all.map((b) => [b.label, servedPerSearch(b)]));
  const valuesOf = (b: BreakingPoint) => served.get(b.label) as number[];
  // A strategy that serves no rate in most searches is no candidate: not a tie to be chosen by the
  // facts, whatever a test with few searches can say.
  const serveNone = all.filter((b) => median(valuesOf(b)) === 0);
  const setApart = serveNone.length < all.length ? serveNone : [];
  const bps = all.filter((b) => !setApart.includes(b));
  const { choice, worse, notSeparated, n } = choose(bps, valuesOf, 'higher');
  const upTo = median(valuesOf(choice));
  const mailBound =
    choice.mailBracket.hi !== null &&
    (choice.mailMaxRatePerSec ?? 0) <= (choice.httpMaxRatePerSec ?? Number.POSITIVE_INFINITY);
  const cl = choice.predicted.mailRatePerSec;
  const limit = mailBound
    ? `where its e-mail falls behind${cl !== null ? ` (the SMTP transport's c/L is ${rate(cl)}: more connections or a faster provider raise it, not the strategy)` : ''}`
    : `where its replies break the p99 ≤ ${ms(choice.sloP99Ms)} SLO`;
  const parts = [
    `Decision: send from \`${choice.label}\` up to ${rate(upTo)}${n > 1 ? ` (median of ${n} searches)` : ''}, ${limit}; ${crashCost(choice.variant)}.`,
  ];
  // Past the chosen rate, a strategy whose replies still hold may be worth its cost.
  const fasterReplies = bps
    .filter((b) => b !== choice && httpFloor(b) > upTo * 1.1 && b.mailBracket.hi !== null)
    .sort((a, b) => httpFloor(b) - httpFloor(a))[0];
  if (fasterReplies) {
    const narrowed = fasterReplies.httpMaxRatePerSec !== null;
    parts.push(
      `Above it, \`${fasterReplies.label}\` still answers within the SLO up to ${narrowed ? '' : 'at least '}${rate(httpFloor(fasterReplies))}${narrowed ? '' : ' (not narrowed)'}, but its e-mail backlog grows past ${rate(mailFloor(fasterReplies))}; ${crashCost(fasterReplies.variant)}.`,
    );
  }
  if (worse.length > 0)
    parts.push(
      `Lower, by the U test: ${worse
        .map(
          ({ item, comparison }) =>
            `${item.label} ${rate(median(valuesOf(item)))} (${pOf(comparison)})`,
        )
        .join(', ')}.`,
    );
  if (setApart.length > 0)
    parts.push(
      `Serving no rate tried (its e-mail kept up at no step, or its replies at none): ${setApart.map((b) => b.label).join(', ')}.`,
    );
  if (notSeparated.length > 0)
    parts.push(
      `Not separated from it: ${notSeparated.map((b) => `${b.label} ${rate(median(valuesOf(b)))}`).join(', ')}; ${
        n <= 3
          ? `with ${n} search${n === 1 ? '' : 'es'} each no test can separate limits (run --repeats ${repeatsToTest(worse.length + notSeparated.length)} or more), so the registry's facts chose`
          : "no test separates their limits, so the registry's facts chose"
      }.`,
    );
  return parts.join(' ');
}
