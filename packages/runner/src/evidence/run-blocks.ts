/**
 * Generated blocks over matrix, fault, capacity and breaking-point runs (blocks.ts has the limits'
 * tables): one table of several fault runs' mail and a line per run saying who lost, failed,
 * retried or duplicated what; a label's e-mail step by step; a compact table of the average reply
 * per label and rate; a run's generator lateness; capacities of several runs side by side; and
 * the original's claims (seed-blocks.ts). Every figure is read from a run's summary, cells or
 * steps, the same figures its summary.md prints.
 */
import type { ReliabilityRow, SummaryRow } from '../shapes/run.ts';
import type { Evidence, Params } from './blocks.ts';
import { num, span } from './format.ts';
import { seedClaims } from './seed-blocks.ts';

type Generator = (ev: Evidence, p: Params, page: string) => string;

const list = (text: string | undefined) => (text ?? '').split(',').filter(Boolean);

/** `label` n, `label` m (the non-zero ones), or null when every row has 0. */
function who(rows: ReliabilityRow[], f: (r: ReliabilityRow) => number): string | null {
  const hits = rows.filter((r) => f(r) > 0).map((r) => `\`${r.label}\` ${num(f(r))}`);
  return hits.length ? hits.join(', ') : null;
}

/** The labels of rows that owe mail and got none of f: "none for `a`, `b`". */
function none(rows: ReliabilityRow[], f: (r: ReliabilityRow) => number): string {
  const zero = rows.filter((r) => r.expected > 0 && f(r) === 0).map((r) => `\`${r.label}\``);
  return zero.length ? `none for ${zero.join(', ')}` : '';
}

/** What one fault run's mail came to, in one sentence per kind of outcome that happened. */
function mailFates(ev: Evidence, name: string): string {
  const run = ev.run(name);
  const rows = run.summary.reliability;
  const parts: string[] = [];
  const add = (what: string, f: (r: ReliabilityRow) => number, withNone = false) => {
    const hits = who(rows, f);
    if (hits) parts.push(`${what}: ${hits}${withNone ? `; ${none(rows, f)}` : ''}`);
  };
  add('silently lost', (r) => r.lost, true);
  add('abandoned at shutdown', (r) => r.abandoned);
  add('reported failed', (r) => r.failed);
  add('failed, delivered later', (r) => r.failedButDeliveredLater);
  add('sent twice', (r) => r.duplicated);
  add('retries', (r) => r.retried);
  add('users stored without their reply', (r) => r.strayUsers);
  const down = rows.map((r) => r.crashDownSec).filter((v): v is number => v !== null);
  if (down.length) parts.push(`the API was unreachable for ${span(down)} s`);
  const recovery = rows.map((r) => r.smtpRecoverySec).filter((v): v is number => v !== null);
  if (recovery.length)
    parts.push(`the last e-mail arrived ${span(recovery)} s after the provider was back`);
  const bad = rows.map((r) => r.badInputAnswered).filter((v): v is string => v !== null);
  if (bad.length)
    parts.push(`malformed requests answered with their 4xx: ${[...new Set(bad)].join(', ')}`);
  const owed = rows.reduce((a, r) => a + r.expected, 0);
  const delivered = rows.reduce((a, r) => a + r.delivered, 0);
  const lead = `- **${run.run.scenario.name}** (${num(delivered)} of ${num(owed)} owed e-mails delivered)`;
  return parts.length ? `${lead}: ${parts.join('; ')}.` : `${lead}: nothing failed.`;
}

/** Average reply from send, median (range) over the repeats; † where the row is not valid. */
function avgText(r: SummaryRow): string {
  if (r.avgFromSendMs === null) return '–';
  const range = r.avgFromSendRangeMs;
  const spread = range && range[0] !== range[1] ? ` (${num(range[0])}–${num(range[1])})` : '';
  return `${num(r.avgFromSendMs)}${spread}${r.valid ? '' : ' †'}`;
}

/**
 * One label's e-mail at each measured step of a breaking-point run, by rate: the share in time
 * (each search's, where repeats measured the rate more than once) and, where the mail fell behind,
 * how fast its backlog grew.
 */
function mailSteps(ev: Evidence, name: string, label: string): string {
  const steps = ev
    .run(name)
    .steps.map((s) => s.result)
    .filter((s) => s.label === label && s.status === 'ok' && !s.generatorLimited && s.emails)
    .sort((a, b) => a.ratePerSec - b.ratePerSec);
  const rates = [...new Set(steps.map((s) => s.ratePerSec))];
  const at = rates.map((rate) => {
    const here = steps.filter((s) => s.ratePerSec === rate);
    const shares = here.map((s) => `${Math.round((s.emails?.share ?? 0) * 100)} %`);
    const growth = here
      .filter((s) => s.mailOk === false && s.emails?.backlogGrowthPerSec != null)
      .map((s) => s.emails?.backlogGrowthPerSec as number);
    const grows = growth.length ? `, backlog +${span(growth)}/s` : '';
    return `${Number(rate.toFixed(1))}/s ${shares.join(' and ')}${grows}`;
  });
  return `\`${label}\`'s e-mail in time, step by step: ${at.join('; ')}.`;
}

export const RUN_GENERATORS: Record<string, Generator> = {
  /** docs/original-stack.md's claims of the original experiment, tested (seed-blocks.ts). */
  'seed-claims': (ev, p) => seedClaims(ev, p),

  /** A label's e-mail share at each step of a breaking-point run (see mailSteps). */
  'mail-steps': (ev, p) => mailSteps(ev, p.run as string, p.label as string),

  /** Several fault runs' reliability rows in one table, a scenario per group of rows. */
  'reliability-table': (ev, p) => {
    const lines = [
      '| scenario | variant | e-mails owed | delivered | reported failed | failed, delivered later | abandoned | silently lost | duplicated | retried | stray users |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const name of list(p.runs)) {
      const run = ev.run(name);
      const rows = run.summary.reliability.filter((r) => r.expected > 0);
      rows.forEach((r, i) => {
        const cells = [
          r.expected,
          r.delivered,
          r.failed,
          r.failedButDeliveredLater,
          r.abandoned,
          r.lost,
          r.duplicated,
          r.retried,
          r.strayUsers,
        ];
        lines.push(
          `| ${i === 0 ? run.run.scenario.name : ''} | ${r.label} | ${cells.map(num).join(' | ')} |`,
        );
      });
    }
    return lines.join('\n');
  },

  /** One line per fault run: who lost, failed, duplicated, retried; the fault's own figures. */
  'mail-fates': (ev, p) =>
    list(p.runs)
      .map((name) => mailFates(ev, name))
      .join('\n'),

  /**
   * One figure per label (rows) and request count (columns): the average reply from send, median
   * (range) over the repeats, † where the row is not valid; the original's figure where the
   * scenario has one.
   */
  'matrix-table': (ev, p) => {
    const run = ev.run(p.run as string);
    const rows = run.summary.rows;
    const windowSec = run.run.scenario.durationSec;
    const counts = [...new Set(rows.map((r) => r.requests))].sort((a, b) => a - b);
    const labels = [...new Set(rows.map((r) => r.label))];
    const reference = rows.some((r) => r.reference);
    const head = counts.map((n) => `${n} / ${windowSec} s (${(n / windowSec).toFixed(1)}/s)`);
    const lines = [
      `| ${p.title ?? 'variant'} | ${head.join(' | ')} |${reference ? " the original's avg, ms |" : ''}`,
      `|---|${counts.map(() => '---:').join('|')}|${reference ? '---|' : ''}`,
    ];
    for (const label of labels) {
      const mine = rows.filter((r) => r.label === label);
      const at = counts.map((n) => mine.find((r) => r.requests === n));
      const refs = mine
        .filter((r) => r.reference)
        .map((r) => `${num(r.reference?.avgMs ?? 0)} at ${r.requests}`);
      lines.push(
        `| ${label} | ${at.map((r) => (r ? avgText(r) : '–')).join(' | ')} |${reference ? ` ${refs.join(', ') || '–'} |` : ''}`,
      );
    }
    return lines.join('\n');
  },

  /**
   * How well a run's generator kept its schedule across its cells (those whose label ends with
   * `labels`, when given), and what that did to the replies measured from the intended times (the
   * engines' comparison).
   */
  'dispatch-line': (ev, p) => {
    const run = ev.run(p.run as string);
    const cells = run.cells
      .map((c) => c.result)
      .filter((c) => c.status === 'ok' && c.label.endsWith(p.labels ?? ''));
    const d = cells.map((c) => c.dispatchErrorMs).filter((x) => x !== null);
    const ms = (v: number[]) => span(v, (n) => n.toFixed(0));
    const fromSend = cells.map((c) => c.latencyMs?.fromSend.mean ?? null);
    const fromIntended = cells.map((c) => c.latencyMs?.fromIntended.mean ?? null);
    const known = (v: Array<number | null>) => v.filter((x): x is number => x !== null);
    const invalid = cells.filter((c) => !c.valid).length;
    return (
      `Across its ${cells.length} cells (${run.run.scenario.engine} sending): dispatch error p50 ${ms(d.map((x) => x.p50))} ms, ` +
      `p99 ${ms(d.map((x) => x.p99))} ms, max ${ms(d.map((x) => x.max))} ms; the average reply ${ms(known(fromSend))} ms from send ` +
      `and ${ms(known(fromIntended))} ms from the intended time; ${invalid} of ${cells.length} cells judged invalid.`
    );
  },

  /** Closed-loop capacities of several runs side by side, a column per run, headed by its name. */
  'capacity-table': (ev, p) => {
    const names = list(p.runs);
    const runs = names.map((n) => ev.run(n));
    const variants = [...new Set(runs.flatMap((r) => r.summary.capacity.map((c) => c.variant)))];
    const lines = [
      `| target | ${names.map((n) => `\`${n}\``).join(' | ')} |`,
      `|---|${names.map(() => '---:').join('|')}|`,
    ];
    for (const v of variants) {
      const cells = runs.map((r) => {
        const c = r.summary.capacity.find((x) => x.variant === v);
        if (!c) return '–';
        if (c.status !== 'ok') return c.status;
        const range = c.range && c.range[0] !== c.range[1] ? ` (${span(c.range)})` : '';
        return `${c.requestsPerSec.toFixed(1)}${range}`;
      });
      lines.push(`| ${v} | ${cells.join(' | ')} |`);
    }
    return lines.join('\n');
  },
};
