/**
 * The breaking points of a run, from its steps: one entry per label with the two limits, their
 * brackets, the model's predictions and its checks; said in a sentence, a table row and
 * summary.md's section.
 */
import { medianInterval } from './stats.ts';
import { describeFactor, withFactor } from '../config/factors.ts';
import type { StepResult } from '../shapes/results.ts';
import { subjectFacts } from '../config/subjects.ts';
import { baseStep, limitChecks, predict, stepChecks } from '../judge/model.ts';
import { bracketOf, generatorCeiling, outcomeOf, withinResolution } from '../judge/brackets.ts';
import { EXTERNAL, type Scenario } from '../shapes/scenario.ts';
import { latencyMedianMs } from '../config/latency.ts';
import { MAX_RETRIES, PROBE_SEC } from '../shapes/run.ts';
import type { Bracket, BreakingPoint } from '../shapes/run.ts';

/** One entry per label, from its steps (in the order they ran). */
export function buildBreakingPoints(
  scenario: Scenario,
  steps: Array<{ file: string; result: StepResult }>,
  cores: number,
): BreakingPoint[] {
  const byLabel = new Map<string, Array<{ file: string; result: StepResult }>>();
  for (const s of steps) byLabel.set(s.result.label, [...(byLabel.get(s.result.label) ?? []), s]);
  return [...byLabel.values()].map((list) => {
    const byRepeat = new Map<number, Array<{ file: string; result: StepResult }>>();
    for (const s of list)
      byRepeat.set(s.result.repeat ?? 1, [...(byRepeat.get(s.result.repeat ?? 1) ?? []), s]);
    const searches = [...byRepeat.values()].map((l) => entryOf(scenario, l, cores));
    return searches.length === 1 ? (searches[0] as BreakingPoint) : combined(searches);
  });
}

/** The median of the values found; null unless at least half the searches found one. */
function medianFound(values: Array<number | null>): {
  median: number | null;
  range: [number, number] | null;
} {
  const found = values.filter((v): v is number => v !== null);
  if (found.length === 0 || found.length * 2 < values.length) return { median: null, range: null };
  return { median: medianInterval(found).median, range: [Math.min(...found), Math.max(...found)] };
}

/** The most frequent of the searches' values (the first one's on a tie). */
function mostOften<T>(values: T[]): T {
  return [...values].sort(
    (a, b) => values.filter((v) => v === b).length - values.filter((v) => v === a).length,
  )[0] as T;
}

/**
 * One label's repeated searches as one entry: each limit the median of the searches that found it
 * (narrowed), with their range; the model and the steps of all; every search kept in `searches`.
 */
function combined(searches: BreakingPoint[]): BreakingPoint {
  const first = searches[0] as BreakingPoint;
  const http = medianFound(
    searches.map((s) => (s.httpNarrowed === false ? null : s.httpMaxRatePerSec)),
  );
  const mail = medianFound(
    searches.map((s) => (s.mailNarrowed === false ? null : s.mailMaxRatePerSec)),
  );
  return {
    ...first,
    httpMaxRatePerSec: http.median,
    httpRange: http.range,
    httpNarrowed: http.median !== null,
    mailMaxRatePerSec: mail.median,
    mailRange: mail.range,
    mailNarrowed: mail.median !== null,
    limitedBy: mostOften(searches.map((s) => s.limitedBy)),
    mailLimitedBy: mostOften(searches.map((s) => s.mailLimitedBy)),
    retries: searches.reduce((a, s) => a + (s.retries ?? 0), 0),
    checks: searches.flatMap((s) => s.checks),
    steps: searches.flatMap((s) => s.steps),
    searches: searches.map(({ steps: _steps, checks: _checks, ...s }) => s),
  };
}

/** Whether the search narrowed a bracket to its resolution: only then is its lower end a limit. */

function entryOf(
  scenario: Scenario,
  list: Array<{ file: string; result: StepResult }>,
  cores: number,
): BreakingPoint {
  const first = list[0]!.result;
  const all = list.map((s) => s.result);
  // A disturbed attempt measured again is superseded: only each step's last attempt counts.
  const results = all.filter(
    (r) => !all.some((o) => o.step === r.step && (o.attempt ?? 1) > (r.attempt ?? 1)),
  );
  const outcomes = results.map(outcomeOf);
  const sendsMail = subjectFacts(first.variant).sendsMail;
  const http = bracketOf(outcomes, 'http');
  const mail = sendsMail ? bracketOf(outcomes, 'mail') : { lo: null, hi: null };
  const ceiling = generatorCeiling(outcomes);
  const allFailed = results.every((r) => r.status === 'failed');
  const limitedBy = allFailed
    ? 'failed'
    : http.hi !== null
      ? 'slo'
      : ceiling !== null
        ? 'generator'
        : 'max-rate';
  const scen = withFactor(scenario, first.factor ?? null);
  const predicted = predict(first.variant, results, {
    connections: first.variant === EXTERNAL ? null : scen.transport.maxConnections,
    latencyMs: latencyMedianMs(scen.smtp.latency),
    cores,
  });
  const httpMax = limitedBy === 'slo' ? http.lo : null;
  const mailMax = sendsMail && mail.hi !== null ? mail.lo : null;
  const base = baseStep(results);
  const checks = [
    ...limitChecks(predicted, httpMax, mailMax, first.variant),
    ...results.flatMap((r) => stepChecks(r, predicted, base?.latencyMs?.fromIntended.mean ?? null)),
  ];
  return {
    variant: first.variant,
    label: first.label,
    factor: first.factor ?? null,
    sloP99Ms: first.slo.p99Ms,
    mailShare: first.slo.mailShare,
    httpMaxRatePerSec: httpMax,
    httpBracket: http,
    mailMaxRatePerSec: mailMax,
    mailBracket: mail,
    limitedBy,
    mailLimitedBy: !sendsMail ? 'no-mail' : mail.hi !== null ? 'share' : 'not-reached',
    generatorCeilingPerSec: ceiling,
    httpNarrowed: withinResolution(http, scenario.breakingPoint.resolution),
    mailNarrowed: sendsMail && withinResolution(mail, scenario.breakingPoint.resolution),
    retries: all.length - results.length,
    predicted,
    checks,
    steps: list.map(({ file, result: r }) => ({
      file,
      ratePerSec: r.ratePerSec,
      phase: r.phase,
      attempt: r.attempt ?? 1,
      status: r.status,
      p99Ms: r.latencyMs?.fromIntended.p99 ?? null,
      meanMs: r.latencyMs ? Math.round(r.latencyMs.fromIntended.mean * 10) / 10 : null,
      errors: r.errors,
      httpOk: r.httpOk,
      mailOk: r.mailOk,
      mailShare: r.emails?.share ?? null,
      deliveredRatePerSec: r.emails?.deliveredRatePerSec ?? null,
      backlogGrowthPerSec: r.emails?.backlogGrowthPerSec ?? null,
      generatorLimited: r.generatorLimited,
    })),
  };
}

/** A limit over repeated searches: the median of those that narrowed it, with their range. */
function repeatedLimit(
  what: string,
  median: number | null,
  range: [number, number] | null | undefined,
  brackets: Bracket[],
): string {
  const k = brackets.length;
  if (median === null || !range) {
    const seen = brackets.map(bracketText).join(', ');
    return `${what}: no limit narrowed by most of the ${k} searches (their brackets: ${seen}/s)`;
  }
  const spread = `${spreadOf(range) ?? `each ${fmt(range[0])}`}/s`;
  return `${what === 'e-mail' ? 'e-mail keeps' : what} up to ${fmt(median)}/s (the median of ${k} searches; ${spread})`;
}

function describeRepeated(
  bp: BreakingPoint,
  searches: NonNullable<BreakingPoint['searches']>,
): string {
  const factor = bp.factor ? ` (${describeFactor(bp.factor)})` : '';
  const model =
    bp.predicted.httpRatePerSec !== null ? ` (model ${fmt(bp.predicted.httpRatePerSec)}/s)` : '';
  const slo = `replies meet the SLO (p99 ≤ ${fmt(bp.sloP99Ms / 1000)} s, no errors)`;
  const http = `${repeatedLimit(
    slo,
    bp.httpMaxRatePerSec,
    bp.httpRange,
    searches.map((s) => s.httpBracket),
  )}${model}`;
  const mail =
    bp.mailLimitedBy === 'no-mail'
      ? ''
      : `; ${repeatedLimit(
          'e-mail',
          bp.mailMaxRatePerSec,
          bp.mailRange,
          searches.map((s) => s.mailBracket),
        )}${bp.predicted.mailRatePerSec !== null ? ` (model c/L = ${fmt(bp.predicted.mailRatePerSec)}/s)` : ''}`;
  return `${bp.label}${factor}: ${http}${mail}`;
}

/**
 * "inline: replies within the SLO up to 9.5/s (model 10/s); e-mail keeps up to 10.4/s (model c/L =
 * 10/s)".
 */
export function describeBreakingPoint(bp: BreakingPoint): string {
  if (bp.searches && bp.searches.length > 1) return describeRepeated(bp, bp.searches);
  const factor = bp.factor ? ` (${describeFactor(bp.factor)})` : '';
  const slo = `p99 ≤ ${fmt(bp.sloP99Ms / 1000)} s`;
  const http =
    bp.limitedBy === 'slo'
      ? bp.httpMaxRatePerSec === null
        ? `replies broke the SLO (${slo}) already at ${fmt(bp.httpBracket.hi!)}/s`
        : bp.httpNarrowed === false
          ? `replies met the SLO (${slo}, no errors) at ${fmt(bp.httpMaxRatePerSec)}/s, not at ${fmt(bp.httpBracket.hi!)}/s: the limit lies between (not bracketed: the search did not narrow it)`
          : `replies meet the SLO (${slo}, no errors) up to ${fmt(bp.httpMaxRatePerSec)}/s, not at ${fmt(bp.httpBracket.hi!)}/s`
      : bp.limitedBy === 'generator'
        ? `replies met the SLO up to ${fmt(bp.httpBracket.lo ?? 0)}/s; above it the generator could not keep its schedule in ${1 + MAX_RETRIES} attempts at ${fmt(bp.generatorCeilingPerSec ?? 0)}/s: the machine was too busy to measure further (not the server's limit)`
        : bp.limitedBy === 'max-rate'
          ? `replies met the SLO up to the ladder's top, ${fmt(bp.httpBracket.lo ?? 0)}/s (a lower bound)`
          : 'every step failed to run';
  const model =
    bp.predicted.httpRatePerSec !== null ? ` (model ${fmt(bp.predicted.httpRatePerSec)}/s)` : '';
  const mail =
    bp.mailLimitedBy === 'no-mail'
      ? ''
      : bp.mailLimitedBy === 'share'
        ? `; e-mail keeps up to ${bp.mailMaxRatePerSec === null ? `below ${fmt(bp.mailBracket.hi!)}/s` : bp.mailNarrowed === false ? `somewhere in ${fmt(bp.mailMaxRatePerSec)}–${fmt(bp.mailBracket.hi!)}/s (not bracketed)` : `${fmt(bp.mailMaxRatePerSec)}/s`}${bp.predicted.mailRatePerSec !== null ? ` (model c/L = ${fmt(bp.predicted.mailRatePerSec)}/s)` : ''}`
        : `; e-mail kept up at every rate tried (to ${fmt(bp.mailBracket.lo ?? 0)}/s)`;
  return `${bp.label}${factor}: ${http}${model}${mail}`;
}

function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}

const rate = (n: number | null) => (n === null ? '–' : fmt(n));

/** The range of repeated searches' limits as "48.2–56.1"; null when both ends print the same. */
function spreadOf(range: [number, number]): string | null {
  const [lo, hi] = [fmt(range[0]), fmt(range[1])];
  return lo === hi ? null : `${lo}–${hi}`;
}

/** A bracket as text: "43.4–52", "< 0.9" (nothing passed), "≥ 60" (nothing failed). */
function bracketText(b: Bracket): string {
  if (b.lo === null) return b.hi === null ? '–' : `< ${fmt(b.hi)}`;
  return b.hi === null ? `≥ ${fmt(b.lo)}` : `${fmt(b.lo)}–${fmt(b.hi)}`;
}

/** The columns of the limits table (summary.md and the report). */
export const LIMIT_COLUMNS = [
  'label',
  'HTTP limit /s',
  '(bracket)',
  'model /s',
  'limited by',
  'e-mail limit /s',
  '(bracket)',
  'model c/L /s',
  'steps',
];

/** One label's row of the limits table, as text. */
export function limitRow(e: BreakingPoint): string[] {
  // A limit the search never narrowed is its bracket, not a number.
  const limit = (
    v: number | null,
    isNarrowed: boolean | undefined,
    range?: [number, number] | null,
  ) =>
    v !== null && isNarrowed === false
      ? 'not bracketed'
      : range
        ? `${rate(v)} (${spreadOf(range) ?? 'each'})`
        : rate(v);
  return [
    e.label,
    limit(e.httpMaxRatePerSec, e.httpNarrowed, e.httpRange),
    bracketText(e.httpBracket),
    rate(e.predicted.httpRatePerSec),
    e.limitedBy,
    limit(e.mailMaxRatePerSec, e.mailNarrowed, e.mailRange),
    e.mailLimitedBy === 'no-mail' ? 'no e-mail' : bracketText(e.mailBracket),
    rate(e.predicted.mailRatePerSec),
    String(e.steps.length),
  ];
}

/**
 * The breaking-point section of summary.md: limits beside the model, then every step, then the
 * model's checks.
 */
/** The columns of a search's step table (summary.md and report.html). */
export const STEP_COLUMNS = [
  'step',
  'phase',
  'rate /s',
  'p99 ms',
  'mean ms',
  'errors',
  'HTTP',
  'e-mail in time',
  'delivered /s',
  'backlog growth /s',
];

/**
 * One row per step, in the order run; with repeated searches the step is numbered within its
 * search ("r2 · 3").
 */
export function stepRows(e: BreakingPoint): string[][] {
  return e.steps.map((st, k) => {
    const where = /(?:\/r(\d+))?\/step-(\d+)/.exec(st.file);
    const step = where ? `${where[1] ? `r${where[1]} · ` : ''}${Number(where[2])}` : String(k + 1);
    const http =
      st.status === 'failed'
        ? 'failed'
        : st.generatorLimited
          ? 'generator behind'
          : st.httpOk
            ? 'ok'
            : 'broken';
    const share =
      st.mailShare === null
        ? '–'
        : `${Math.round(st.mailShare * 100)} %${st.mailOk ? '' : ' (behind)'}`;
    return [
      step,
      `${st.phase}${(st.attempt ?? 1) > 1 ? ` (again, ${st.attempt})` : ''}`,
      fmt(st.ratePerSec),
      rate(st.p99Ms),
      rate(st.meanMs),
      String(st.errors),
      http,
      share,
      rate(st.deliveredRatePerSec),
      rate(st.backlogGrowthPerSec),
    ];
  });
}

export function renderBreakingPointsMarkdown(
  entries: BreakingPoint[],
  scenario: Scenario,
): string[] {
  const bp = scenario.breakingPoint;
  const lines = ['', '## Breaking points', ''];
  lines.push(
    `Open loop, ${bp.stepSec} s per step (a first step that only probes the CPU per sign-up, where no SMTP latency predicts a limit, ${PROBE_SEC} s), ${scenario.target ? `against ${scenario.target.url} (the same process throughout: the harness did not start it)` : 'a fresh API process each'}. HTTP limit: the highest rate whose replies met the SLO (p99 from intended ≤ ${bp.sloP99Ms} ms, no errors, timeouts included). ` +
      `E-mail limit: the highest rate at which ≥ ${Math.round(bp.mailShare * 100)} % of the step's owed e-mails reached the sink by the end of its window plus the sink's typical latency (${latencyMedianMs(scenario.smtp.latency)} ms). ` +
      'A step where the generator fell behind (and the server showed no failure of its own) is marked and not counted. ' +
      "Model: e-mail at most c/L; HTTP at most cores / CPU per request (a variant that replies after the send: also c/L, stretched by the SLO's slack over the window); the backlog grows by the accepted rate less c/L; Little's law for e-mail is checked on steps whose backlog held steady.",
  );
  lines.push('', `| ${LIMIT_COLUMNS.join(' | ')} |`, '|---|---:|---|---:|---|---:|---|---:|---:|');
  for (const e of entries) lines.push(`| ${limitRow(e).join(' | ')} |`);
  lines.push(
    '',
    'A bracket "< x": no step passed, the lowest failed at x; "≥ x": none failed, the highest passed at x. A limit is "–" when the search did not bracket it.',
  );
  for (const e of entries) {
    lines.push(
      '',
      `### ${e.label}`,
      '',
      `| ${STEP_COLUMNS.join(' | ')} |`,
      '|---:|---|---:|---:|---:|---:|---|---:|---:|---:|',
    );
    for (const row of stepRows(e)) lines.push(`| ${row.join(' | ')} |`);
    const flagged = e.checks.filter((c) => c.flagged);
    if (e.variant === EXTERNAL)
      lines.push(
        '',
        "No model: the target's cores, connections and CPU per request are not known to the harness.",
      );
    else
      lines.push(
        '',
        `Model checks: ${e.checks.length - flagged.length} of ${e.checks.length} within ±20 %.`,
      );
    for (const c of e.checks) {
      const at = c.ratePerSec === null ? '' : ` at ${fmt(c.ratePerSec)}/s`;
      lines.push(
        `- ${c.flagged ? '**over 20 %**' : 'ok'}: ${c.what}${at}: predicted ${c.predicted}, measured ${c.measured} (${c.differencePct > 0 ? '+' : ''}${c.differencePct} %)${c.explanation ? `. Why: ${c.explanation}` : ''}`,
      );
    }
  }
  return lines;
}
