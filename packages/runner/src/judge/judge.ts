/**
 * The judgement of a cell: a pure function of the cell and its scenario, used by the run and
 * by `pnpm report` on stored results. Two kinds of finding:
 * - measurement: the numbers cannot be trusted (samples missing, generator behind or stalled,
 *   latency censored by the client's timeout, drain timed out, accounting identities broken):
 *   the cell is invalid;
 * - system: the system under test misbehaved (errors, mail lost or failed, duplicates against
 *   the variant's promise): a result, reported, and the cell stays valid.
 */
import { identityFindings } from './identities.ts';
import { isSubject, subjectFacts } from '../config/subjects.ts';
import { timeoutsOf } from './timeouts.ts';
import type { Scenario } from '../shapes/scenario.ts';
import type { CellResult, Finding } from '../shapes/results.ts';

export interface Judgement {
  valid: boolean;
  reasons: string[];
  findings: Finding[];
}

export type JudgedScenario = Pick<
  Scenario,
  'faults' | 'smtp' | 'behindThresholdMs' | 'stallThresholdMs'
>;

/**
 * Whether the scenario makes mail fail on purpose (then reported failures are its result, not a
 * finding).
 */
export function injectsMailFaults(s: JudgedScenario): boolean {
  return (
    Boolean(s.faults.crash || s.faults.smtpDown) ||
    s.smtp.tempFailRate > 0 ||
    s.smtp.permFailRate > 0 ||
    s.smtp.maxConnections > 0 ||
    s.smtp.maxMessagesPerSec > 0
  );
}

export function judgeCell(cell: CellResult, scenario: JudgedScenario): Judgement {
  const findings: Finding[] =
    cell.status === 'failed'
      ? [
          {
            kind: 'measurement',
            code: 'cell-failed',
            message: `cell failed: ${cell.error ?? 'unknown error'}`,
          },
        ]
      : [...measurementFindings(cell, scenario), ...systemFindings(cell, scenario)];
  return {
    valid: !findings.some((f) => f.kind === 'measurement'),
    reasons: findings.map((f) => `${f.kind}: ${f.message}`),
    findings,
  };
}

function measurementFindings(cell: CellResult, s: JudgedScenario): Finding[] {
  const out: Finding[] = [];
  const add = (code: string, message: string) => out.push({ kind: 'measurement', code, message });
  const samples = cell.samples?.status.length ?? 0;
  if (samples !== cell.requests)
    add('samples-missing', `${samples} samples for ${cell.requests} scheduled requests`);
  const dispatch = cell.dispatchErrorMs;
  if (dispatch && dispatch.p99 > s.behindThresholdMs)
    add(
      'generator-behind',
      `generator behind schedule: dispatch error p99 ${dispatch.p99} ms > ${s.behindThresholdMs} ms`,
    );
  if (dispatch && dispatch.max > s.stallThresholdMs)
    add(
      'generator-stalled',
      `generator stalled: a request left ${dispatch.max} ms late (> ${s.stallThresholdMs} ms)`,
    );
  const timeouts = timeoutsOf(cell);
  if (timeouts > 0)
    add(
      'latency-censored',
      `${timeouts} requests hit the client's timeout: their latency is censored, so mean and percentiles are lower bounds`,
    );
  const e = cell.emails;
  if (e.drainTimedOut)
    add(
      'drain-timed-out',
      `the drain timed out with ${e.expected - e.delivered - e.failed - (e.failedButDeliveredLater ?? 0)} owed e-mails not delivered or reported failed by then`,
    );
  const abandoned = cell.server.shutdown?.abandoned ?? 0;
  if (abandoned > 0 && !e.drainTimedOut)
    add(
      'shutdown-abandoned',
      `the server abandoned ${abandoned} e-mails at shutdown after a drain that said it was done`,
    );
  if (e.failureReport === 'unreadable' && e.expected > 0) {
    add(
      'failure-report-unreadable',
      "the server's failure report could not be read: reported failures cannot be told from lost mail",
    );
  }
  out.push(...identityFindings(cell, s.faults.badInput?.share));
  return out;
}

function systemFindings(cell: CellResult, s: JudgedScenario): Finding[] {
  const out: Finding[] = [];
  const add = (code: string, message: string) => out.push({ kind: 'system', code, message });
  const bad = cell.faults?.badInput;
  const unexpected = unexpectedErrors(cell);
  if (unexpected > 0)
    add(
      'http-errors',
      `${unexpected} of ${cell.requests} requests got no 2xx (${describeErrors(cell)})`,
    );
  if (bad && bad.answeredAsExpected !== bad.sent)
    add(
      'bad-input',
      `${bad.sent - bad.answeredAsExpected} of ${bad.sent} bad requests were not answered with their 4xx`,
    );
  const stray =
    cell.accounting.usersInDb === null
      ? 0
      : cell.accounting.usersInDb - cell.accounting.responses2xx;
  if (stray > 0)
    add(
      'stray-users',
      `${stray} users stored without a 2xx reply${s.faults.crash ? ' (the crash killed their replies)' : ''}`,
    );
  const e = cell.emails;
  if (e.lost > 0) add('mail-lost', `${e.lost} of ${e.expected} owed e-mails silently lost`);
  if ((e.abandoned ?? 0) > 0)
    add(
      'mail-abandoned',
      `${e.abandoned} of ${e.expected} owed e-mails abandoned at shutdown (the server said so: they were in its memory when it had to stop)`,
    );
  if ((e.abandonedButArrived ?? 0) > 0)
    add(
      'mail-abandoned-arrived',
      `${e.abandonedButArrived} e-mails the server gave up on at shutdown arrived all the same (already in the SMTP transaction), counted delivered`,
    );
  if ((e.held ?? 0) > 0)
    add(
      'mail-held',
      `${e.held} of ${e.expected} owed e-mails still stored unsent when the server stopped (sent on its next start)`,
    );
  if (e.failed > 0 && !injectsMailFaults(s))
    add(
      'mail-failed',
      `${e.failed} of ${e.expected} owed e-mails reported failed without an injected fault`,
    );
  if ((e.failedButDeliveredLater ?? 0) > 0)
    add(
      'mail-failed-delivered',
      `${e.failedButDeliveredLater} e-mails reported failed but delivered later`,
    );
  if (isSubject(cell.variant)) {
    const facts = subjectFacts(cell.variant);
    if (!facts.mayDuplicate && e.duplicated > 0)
      add(
        'mail-duplicated',
        `${e.duplicated} duplicate e-mails from a variant that sends each once`,
      );
    if (!facts.sendsMail && (e.delivered > 0 || e.deliveredNotOwed > 0 || e.duplicated > 0))
      add('mail-unexpected', 'e-mails from a variant that sends none');
  }
  return out;
}

/** Requests without a 2xx, less the bad-input ones that got the 4xx they deserved. */
export function unexpectedErrors(cell: CellResult): number {
  return cell.errors - (cell.faults?.badInput?.answeredAsExpected ?? 0);
}

function describeErrors(cell: CellResult): string {
  const parts = Object.entries(cell.statusCounts)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${code}: ${n}`);
  for (const [code, n] of Object.entries(cell.errorCounts)) parts.push(`${code}: ${n}`);
  return parts.join(', ') || 'no answer';
}
