/**
 * One factor swept across a scenario: the SMTP connection budget, the hash cost, Agenda's poll
 * interval, the job queues' concurrency or the sink's latency. Every variant runs once per value
 * (at the request counts `requestsAt` names for it, else all); the value is in the label
 * (inline.c10, background.h12, agenda.p1000, bullmq.q20, flask-blocking.l500) and in the result.
 */
import { subjectFacts } from './subjects.ts';
import type { Scenario, FactorName, FactorValue } from '../shapes/scenario.ts';

const TAG: Record<FactorName, string> = {
  smtpConnections: 'c',
  hashCost: 'h',
  agendaProcessEveryMs: 'p',
  queueConcurrency: 'q',
  smtpLatencyMs: 'l',
};
const WORDS: Record<FactorName, string> = {
  smtpConnections: 'SMTP connections',
  hashCost: 'hash cost',
  agendaProcessEveryMs: 'Agenda processEvery ms',
  queueConcurrency: 'queue concurrency',
  smtpLatencyMs: 'SMTP latency ms',
};

/** The values a scenario's cells run at: one null when nothing is swept. */
export function factorValues(scenario: Pick<Scenario, 'sweep'>): Array<FactorValue | null> {
  const sweep = scenario.sweep;
  return sweep ? sweep.values.map((value) => ({ factor: sweep.factor, value })) : [null];
}

/** The scenario as one factor value sets it. */
export function withFactor(scenario: Scenario, f: FactorValue | null): Scenario {
  if (!f) return scenario;
  if (f.factor === 'hashCost') return { ...scenario, hashCost: f.value };
  if (f.factor === 'agendaProcessEveryMs')
    return { ...scenario, agenda: { ...scenario.agenda, processEveryMs: f.value } };
  if (f.factor === 'smtpLatencyMs')
    return { ...scenario, smtp: { ...scenario.smtp, latency: { kind: 'fixed', ms: f.value } } };
  if (f.factor === 'queueConcurrency')
    return {
      ...scenario,
      agenda: { ...scenario.agenda, concurrency: f.value },
      bullmq: { ...scenario.bullmq, concurrency: f.value },
    };
  return { ...scenario, transport: { ...scenario.transport, maxConnections: f.value } };
}

export function labelWith(label: string, f: FactorValue | null): string {
  return f ? `${label}.${TAG[f.factor]}${f.value}` : label;
}

/** The sweep in a sentence, for the summary. */
export function describeSweep(sweep: NonNullable<Scenario['sweep']>): string {
  const narrowed = Object.entries(sweep.requestsAt ?? {}).map(
    ([v, counts]) => `at ${v}, only ${counts.join('/')} requests`,
  );
  return `Swept: ${WORDS[sweep.factor]} ${sweep.values.join(', ')}; every variant once per value (labels .${TAG[sweep.factor]}N)${narrowed.length ? `; ${narrowed.join('; ')}` : ''}.`;
}

export function describeFactor(f: FactorValue | null): string {
  return f ? `${WORDS[f.factor]} ${f.value}` : '';
}

/**
 * Whether a cell of `requests` runs at this factor value (requestsAt may narrow the counts of a
 * value).
 */
export function runsAt(
  scenario: Pick<Scenario, 'sweep'>,
  f: FactorValue | null,
  requests: number,
): boolean {
  const only = f ? scenario.sweep?.requestsAt?.[String(f.value)] : undefined;
  return only === undefined || only.includes(requests);
}

/** Problems with a sweep's values (the schema checks the shape; these are the ranges). */
export function sweepProblems(
  scenario: Pick<Scenario, 'sweep' | 'variants' | 'workerPool' | 'requests'>,
): string[] {
  const sweep = scenario.sweep;
  if (!sweep) return [];
  const problems: string[] = [];
  for (const [value, counts] of Object.entries(sweep.requestsAt ?? {})) {
    if (!sweep.values.map(String).includes(value))
      problems.push(
        `sweep.requestsAt: ${value} is not among the values (${sweep.values.join(', ')})`,
      );
    const strangers = counts.filter((n) => !scenario.requests.includes(n));
    if (strangers.length > 0)
      problems.push(
        `sweep.requestsAt.${value}: ${strangers.join(', ')} not among the request counts (${scenario.requests.join(', ')})`,
      );
  }
  for (const v of sweep.values) {
    if (sweep.factor === 'hashCost' && (v === 1 || v > 20))
      problems.push(`sweep: hash cost ${v} is not 0 (off) or 2-20`);
    if (sweep.factor !== 'hashCost' && sweep.factor !== 'smtpLatencyMs' && v < 1)
      problems.push(`sweep: ${describeFactor({ factor: sweep.factor, value: v })}: at least 1`);
    for (const variant of scenario.variants.filter((x) => subjectFacts(x).sendsFromThreads)) {
      if (sweep.factor === 'smtpConnections' && v < scenario.workerPool.threads)
        problems.push(
          `sweep: ${variant}'s ${scenario.workerPool.threads} threads cannot share ${v} SMTP connections`,
        );
    }
  }
  return problems;
}
