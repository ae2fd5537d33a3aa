/**
 * What a run found, in sentences generated from its data (never from the scenario file's prose),
 * and the configuration that actually ran: the first thing summary.md and report.html show.
 */
import os from 'node:os';
import { describeStages } from '@mailbench/loadgen/schedule';
import { describeSweep } from '../config/factors.ts';
import { describeLatency } from '@mailbench/smtp-sink';
import { subjectFacts } from '../config/subjects.ts';
import { isReference } from '../config/references.ts';
import { describeBreakingPoint } from './breaking-points.ts';
import {
  GUIDE_HTTP,
  type Ranking,
  type RunInfo,
  type SummaryFigures,
  type SummaryRow,
} from '../shapes/run.ts';
import { measuredFlags } from '../config/flag-help.ts';
import { parseThreshold } from '../config/thresholds.ts';
import { LATENCY, type Threshold } from '../shapes/scenario.ts';
import { repeatsToTest, smallestP } from './stats.ts';

/**
 * The flags of this run that overrode what its scenario file measures, as typed: recorded in
 * run.json (read from argv for runs made before).
 */
export function overridesOf(run: Pick<RunInfo, 'argv' | 'overrides'>): string[] {
  return run.overrides?.flags ?? measuredFlags(run.argv);
}

/** The configuration that ran, one line per aspect. */
/** The cells' load: the matrix, the load profile, and the breaking-point search, whichever ran. */
function matrixText(s: RunInfo['scenario']): string {
  const parts: string[] = [];
  if (s.stages)
    parts.push(`a load profile of ${describeStages(s.stages)} (${s.requests[0]} requests)`);
  else if (s.requests.length > 0)
    parts.push(`${s.requests.join('/')} requests over ${s.durationSec} s per cell`);
  if (s.requests.length > 0)
    parts.push(`${s.repeats} repeat${s.repeats > 1 ? 's, interleaved' : ''}`);
  const bp = s.breakingPoint;
  if (bp?.enabled)
    parts.push(
      `a breaking-point search per variant: ${bp.stepSec} s steps, a ladder from ${bp.startRate}/s ×${bp.growth} per rung that the model guides (from just below c/L where e-mail bounds it, then, after a short probe of the CPU per sign-up, from ${Math.round(GUIDE_HTTP.start * 100)} % and ${Math.round(GUIDE_HTTP.end * 100)} % of the HTTP limit that CPU predicts), then up to ${bp.bisections} bisections to ${Math.round(bp.resolution * 100)} %, aimed where the model puts the limit; SLO p99 ≤ ${bp.sloP99Ms} ms with no errors, e-mail ≥ ${Math.round(bp.mailShare * 100)} % in time`,
    );
  return parts.length > 0 ? `; ${parts.join('; ')}` : '';
}

/** What ran when the cells loaded an API the harness did not start. */
function targetLines(run: RunInfo, target: NonNullable<RunInfo['scenario']['target']>): string[] {
  const s = run.scenario;
  const sink = `${run.smtpSink.host}${run.smtpSink.port ? `:${run.smtpSink.port}` : ''}`;
  return [
    `Target: ${target.url}, cells labelled ${target.label}${matrixText(s)}${s.quick ? ' (--quick)' : ''}: an API the harness did not start, so its own settings (e-mail strategy, SMTP transport, hashing) apply and the scenario's API settings do not.`,
    `SMTP sink at ${sink}: latency ${describeLatency(s.smtp.latency)}${s.smtp.maxConnections ? `, at most ${s.smtp.maxConnections} connections` : ''}${s.smtp.tempFailRate || s.smtp.permFailRate ? `, refusing ${s.smtp.tempFailRate * 100}% temporarily and ${s.smtp.permFailRate * 100}% permanently` : ''}; client timeout ${s.timeoutSec} s; ${s.connection} connections.`,
    `Stored users: ${target.mongoUri ? `counted in ${target.mongoUri} (${run.database.engine} ${run.database.version}), and this run's removed after each cell` : 'not checked (no --target-mongo-uri)'}; server metrics, e-mail backlog and failure reports: not available from a target the harness did not start.`,
    ...faultLines(run),
  ];
}

export function configurationLines(run: RunInfo): string[] {
  const s = run.scenario;
  const overrides = overridesOf(run);
  if (s.target)
    return [
      `Scenario \`${s.name}\`${overrides.length ? `, overridden by ${overrides.map((o) => `\`${o}\``).join(' ')}` : ' as written'}.`,
      ...targetLines(run, s.target),
    ];
  return [
    `Scenario \`${s.name}\`${overrides.length ? `, overridden by ${overrides.map((o) => `\`${o}\``).join(' ')}` : ' as written'}.`,
    `Variants: ${s.variants.join(', ')}${s.aaControl ? ` (and ${s.aaControl}-aa, an A/A twin of ${s.aaControl})` : ''}${matrixText(s)}${s.quick ? ' (--quick: the same rates as the full scenario, shorter windows)' : ''}.`,
    ...(s.sweep ? [describeSweep(s.sweep)] : []),
    ...(run.aroundLimit
      ? [
          `Around the limit: ${run.aroundLimit.limitedBy}'s closed-loop capacity, ${run.aroundLimit.limitPerSec}/s, is this stack's limit; the requests are at ratios ${run.aroundLimit.ratios.join(', ')} of it, as the original's were of its ~${run.aroundLimit.originalLimitPerSec}/s.`,
        ]
      : []),
    `SMTP sink: latency ${s.sweep?.factor === 'smtpLatencyMs' ? 'as swept' : describeLatency(s.smtp.latency)}${greeting(run)}${s.smtp.maxConnections ? `, at most ${s.smtp.maxConnections} connections` : ''}${s.smtp.tempFailRate || s.smtp.permFailRate ? `, refusing ${s.smtp.tempFailRate * 100}% temporarily and ${s.smtp.permFailRate * 100}% permanently` : ''}; API transport ${s.transport.mode}${s.transport.mode === 'pooled' ? ` with ${s.transport.maxConnections} connections` : ''}, send timeout ${s.transport.sendTimeoutMs} ms; client timeout ${s.timeoutSec} s.`,
    `Each sign-up hashes its password with scrypt 2^${s.hashCost}${s.hashCost === 0 ? ' (off)' : ''}; ${s.connection} connections; database ${run.database.engine} ${run.database.version}.`,
    ...(run.pinning
      ? [
          `CPU pinning: the API on core${run.pinning.api.length > 1 ? 's' : ''} ${run.pinning.api.join(',')}, the harness (generator, sink, database, Redis) on core${run.pinning.harness.length > 1 ? 's' : ''} ${run.pinning.harness.join(',')}.`,
        ]
      : []),
    ...referenceLines(run),
    ...(s.engine === 'jmeter'
      ? [
          "Engine: JMeter sent every measured schedule (the original's plan: N threads started evenly over the window, loop 1, a connection per request); its log was read back with each thread's start by the ramp-up as the intended time. The warm-up is mailbench's.",
        ]
      : []),
    ...faultLines(run),
  ];
}

function greeting(run: RunInfo): string {
  const ms = run.smtpSink.greetingDelayMs;
  return ms === undefined ? '' : `, greeting after ${ms} ms`;
}

/** The reference targets' settings and parts, when any ran. */
function referenceLines(run: RunInfo): string[] {
  const s = run.scenario;
  const refs = s.variants.filter(isReference);
  if (refs.length === 0 || !s.reference) return [];
  const r = s.reference;
  const parts = Object.entries(run.referenceStack ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const flask = refs.some((v) => v.startsWith('flask-'))
    ? `the Flask targets on gunicorn with ${r.workers} ${r.workerClass ?? 'gevent'} worker${r.workers === 1 ? '' : 's'}, passwords ${r.passwordHash === 'none' ? 'stored as given' : "hashed with werkzeug's default (pbkdf2:sha256)"}; `
    : '';
  return [
    `Reference targets (${refs.join(', ')}), started fresh per cell: ${flask}${r.emailDelayMs ? `a ${r.emailDelayMs} ms sleep in their e-mail function; ` : ''}one SMTP connection per e-mail${parts ? `. Parts: ${parts}` : ''}.`,
  ];
}

function faultLines(run: RunInfo): string[] {
  const f = run.scenario.faults;
  const lines: string[] = [];
  if (f.crash)
    lines.push(
      `Fault: the API is killed ${f.crash.atSec} s into each window and restarted at once.`,
    );
  if (f.smtpDown)
    lines.push(
      `Fault: the SMTP sink refuses every connection from ${f.smtpDown.fromSec} s to ${f.smtpDown.fromSec + f.smtpDown.forSec} s into each window.`,
    );
  if (f.badInput)
    lines.push(
      `Fault: ${Math.round(f.badInput.share * 100)}% of the requests are malformed in five ways.`,
    );
  return lines;
}

function latencySentence(
  requests: number,
  rows: SummaryRow[],
  summary: SummaryFigures,
  durationSec: number,
): string {
  const measured = rows.filter((r) => r.avgFromSendMs !== null);
  if (measured.length === 0) return `At ${requests} requests: no cell completed.`;
  const sorted = [...measured].sort(
    (a, b) => (a.avgFromSendMs as number) - (b.avgFromSendMs as number),
  );
  const fast = sorted[0] as SummaryRow;
  const slow = sorted[sorted.length - 1] as SummaryRow;
  const bound = (r: SummaryRow) =>
    `${r.timeouts ? '≥ ' : ''}${Math.round(r.avgFromSendMs as number)} ms`;
  const spread =
    sorted.length > 1
      ? `from ${bound(fast)} (${fast.label}) to ${bound(slow)} (${slow.label})`
      : `${bound(fast)} (${fast.label})`;
  return `At ${(requests / durationSec).toFixed(1)} sign-ups/s (${requests} in ${durationSec} s) the average reply took ${spread}.${
    rows.length > 1
      ? ` ${rankingSentence(
          summary.rankings.find((k) => k.requests === requests),
          rows.length,
        )}`
      : ''
  }`;
}

function mailSentences(summary: SummaryFigures): string[] {
  const sending = summary.reliability.filter((r) => subjectFacts(r.variant).sendsMail);
  if (sending.length === 0) return [];
  const troubled = sending.filter(
    (r) => r.lost + r.abandoned + r.held + r.failed + r.failedButDeliveredLater + r.duplicated > 0,
  );
  if (troubled.length === 0)
    return [
      `Every owed e-mail was delivered, once (${sending.reduce((a, r) => a + r.expected, 0)} in all).`,
    ];
  return troubled.map((r) => {
    const parts = [
      r.lost ? `${r.lost} silently lost` : '',
      r.abandoned ? `${r.abandoned} abandoned at shutdown (by the server's own report)` : '',
      r.held ? `${r.held} still stored unsent at shutdown` : '',
      r.failed ? `${r.failed} reported failed` : '',
      r.failedButDeliveredLater
        ? `${r.failedButDeliveredLater} reported failed but delivered later`
        : '',
      r.duplicated ? `${r.duplicated} duplicated` : '',
    ].filter(Boolean);
    return `${r.label} at ${r.requests} requests: of ${r.expected} owed e-mails, ${parts.join(', ')}.`;
  });
}

/** Whether a run's process is alive on this machine (null: it ran on another, or did not say). */
function runnerAlive(run: RunInfo): boolean | null {
  if (!run.runner || run.runner.hostname !== os.hostname()) return null;
  try {
    process.kill(run.runner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A run that did not reach its end, said first: stopped by a write failure, still running, or
 * killed.
 */
export function endingSentence(run: RunInfo): string | null {
  if (run.failure) return `The run stopped early: ${run.failure}.`;
  if (run.endedAt !== null) return null;
  const alive = runnerAlive(run);
  if (alive)
    return `The run is still in progress (runner pid ${run.runner?.pid}): these are the results so far.`;
  const who =
    alive === false ? `its runner (pid ${run.runner?.pid}) is gone` : 'it has no end time';
  return `The run never finished: ${who}, so it was killed or crashed; only the results listed in run.json were measured.`;
}

/**
 * Rows where requests did not get the answer they were sent for: said before any latency, which is
 * of the others.
 */
function unansweredSentences(summary: SummaryFigures): string[] {
  const short = summary.rows.filter((r) => r.expectedResponses < r.sent);
  if (short.length === 0) return [];
  const parts = short.map(
    (r) => `${r.label} at ${r.requests} requests: ${r.sent - r.expectedResponses} of ${r.sent}`,
  );
  return [
    `Not every request got the answer it was sent for (${parts.join('; ')}): the latencies below are of those that did; the failures are listed with the findings.`,
  ];
}

/**
 * How a request count's variants rank, or why they are not ranked (`labels`: how many were
 * ranked, whose neighbours' comparisons Holm's correction counts).
 */
export function rankingSentence(ranking: Ranking | undefined, labels: number): string {
  if (!ranking || ranking.order === null) {
    const n = ranking?.n ?? 1;
    const p = n > 1 ? `the smallest p with ${n} a side is ${smallestP(n, n).toFixed(2)}; ` : '';
    return `Not ranked: with ${n} repeat${n === 1 ? '' : 's'} of each variant no test can tell them apart at p < 0.05 (${p}run with --repeats ${repeatsToTest(labels - 1)} or more to rank ${labels} variants).`;
  }
  return `Ranked by avg from send (n = ${ranking.n} valid repeats each; Mann-Whitney U, Holm-corrected over the neighbours: "<" where p < 0.05 and the medians differ by more than 5 %, "~" where not): ${ranking.order}.`;
}

/**
 * A threshold's measured value as k6 prints it: `p99 = 612 ms`, `errors = 1.5 %`, `lost = 0`.
 * `actual` is in the threshold's unit (judge/thresholds.ts).
 */
export function measuredText(expr: string, actual: number): string {
  let t: Threshold;
  try {
    t = parseThreshold(expr);
  } catch {
    return String(actual);
  }
  const unit = t.metric in LATENCY || t.metric === 'lag_p99' ? ' ms' : t.percent ? ' %' : '';
  return `${t.metric} = ${actual}${unit}`;
}

/** The run's findings, most important first: the decision (decision.ts), then what it rests on. */
export function verdictSentences(
  summary: SummaryFigures,
  run: RunInfo,
  decision: string | null = null,
): string[] {
  const s = run.scenario;
  const out: string[] = [];
  const cells = summary.rows.reduce((a, r) => a + r.repeats, 0);
  const ending = endingSentence(run);
  // A run that did not finish says so before anything it decides from what it measured.
  if (ending) out.push(ending);
  else if (!summary.complete)
    out.push(
      `The run was interrupted: only the cells below were measured${run.notRun?.length ? `; not run: ${run.notRun.join(', ')}` : ''}.`,
    );
  if (decision) out.push(decision);
  out.push(...unansweredSentences(summary));
  for (const bp of summary.breakingPoints ?? []) out.push(`${describeBreakingPoint(bp)}.`);
  if (cells > 0 || summary.invalidCells.length > 0)
    out.push(
      summary.invalidCells.length === 0
        ? `${cells === 1 ? 'The cell is' : `All ${cells} cells are`} valid: every request has its sample, the generator kept its schedule, no latency was cut off, and the e-mail accounting adds up.`
        : `${summary.invalidCells.length} of ${cells} cells are invalid (their figures cannot be trusted): ${summary.invalidCells.map((c) => `${c.file} (${c.reasons.filter((r) => r.startsWith('measurement')).join('; ')})`).join('; ')}.`,
    );
  for (const t of summary.thresholds) {
    const worst = t.worst
      ? `; nearest to failing: ${t.worst.file}, ${measuredText(t.expr, t.worst.actual)}`
      : '';
    out.push(
      t.failed.length === 0
        ? `Threshold \`${t.expr}\` met by ${t.cells === 1 ? 'the cell it names' : `all ${t.cells} cells`}${worst}.`
        : `Threshold \`${t.expr}\` FAILED by ${t.failed.length} of ${t.cells} cells (${t.failed.map((f) => `${f.file}: ${f.actual === null ? (f.note ?? 'no value') : measuredText(t.expr, f.actual)}`).join('; ')}).`,
    );
  }
  for (const requests of s.requests) {
    const rows = summary.rows.filter((r) => r.requests === requests);
    if (rows.length > 0) out.push(latencySentence(requests, rows, summary, s.durationSec));
  }
  out.push(...mailSentences(summary));
  return out;
}
