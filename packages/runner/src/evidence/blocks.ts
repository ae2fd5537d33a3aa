/**
 * The generated blocks of the documentation, each a function of the reference runs: the README's
 * limits table and the paragraph that says where they come from, a section of a run's own
 * summary.md (its tables and verdict, written by the same code as the run's), a chart copied from a
 * run, and the index of results/. docs.ts finds the blocks and rewrites them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { wrapText } from '../config/flag-help.ts';
import { subjectFacts } from '../config/subjects.ts';
import { renderSummaryMarkdown } from '../render/markdown.ts';
import { crashFate } from '../summary/decision.ts';
import { loadRun, type LoadedRun } from '../results/load.ts';
import type { BreakingPoint } from '../shapes/run.ts';
import { REPO_ROOT } from '../shapes/paths.ts';
import type { Subject } from '../shapes/scenario.ts';
import { measuredPathHash } from './fingerprint.ts';
import { fmt, span } from './format.ts';
import {
  commandOf,
  isCurrent,
  loadManifest,
  loadState,
  type ReferenceRun,
  runDirOf,
} from './manifest.ts';

export type Params = Record<string, string>;

/** What the generators read: the reference runs by name, loaded once. */
export class Evidence {
  readonly state = loadState();
  readonly manifest = loadManifest();
  readonly hash = measuredPathHash();
  private loaded = new Map<string, LoadedRun>();
  /** Files the blocks copy from the runs (charts): docs.ts copies or compares them. */
  readonly copies: Array<{ from: string; to: string }> = [];

  made(name: string): ReferenceRun {
    const made = this.state.runs[name];
    if (!made) throw new Error(`no reference run named "${name}" in results/reference-runs.json`);
    return made;
  }

  run(name: string): LoadedRun {
    let run = this.loaded.get(name);
    if (!run) {
      run = loadRun(runDirOf(this.made(name)));
      this.loaded.set(name, run);
    }
    return run;
  }

  stale(name: string): boolean {
    return !isCurrent(this.made(name), this.hash);
  }

  /** `results/<run>/summary.md`, relative to the page at `from` (a path in the repository). */
  link(name: string, from: string, file = 'summary.md'): string {
    const target = path.join(runDirOf(this.made(name)), file);
    return path.relative(path.dirname(path.join(REPO_ROOT, from)), target);
  }
}

/**
 * Prose wrapped at `width` columns (the docs keep lines under 120) by --help's wrapText: each
 * paragraph, and each list item with its continuation lines indented under it. Tables and images
 * pass as they are.
 */
export function wrap(text: string, width = 100): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('|') || line.startsWith('![') || line.length <= width) return line;
      const indent = line.startsWith('- ') ? '  ' : '';
      const [first = '', ...rest] = wrapText(line, width);
      const more = wrapText(rest.join(' '), width - indent.length).map((l) => indent + l);
      return [first, ...more].join('\n');
    })
    .join('\n');
}

/** A limit as the table prints it: median (range) of repeated searches, or the unnarrowed bracket. */
export function limitText(e: BreakingPoint, which: 'http' | 'mail'): string {
  const value = which === 'http' ? e.httpMaxRatePerSec : e.mailMaxRatePerSec;
  const bracket = which === 'http' ? e.httpBracket : e.mailBracket;
  const narrowed = which === 'http' ? e.httpNarrowed : e.mailNarrowed;
  const range = which === 'http' ? e.httpRange : e.mailRange;
  if (which === 'mail' && e.mailLimitedBy === 'no-mail') return '–';
  if (which === 'mail' && e.mailLimitedBy === 'not-reached')
    return `≥ ${fmt(bracket.lo ?? 0)} (never fell behind)`;
  if (value === null) {
    // Repeated searches that did not agree on a limit: each one's bracket, as the summary gives them.
    const open = (e.searches ?? [])
      .map((s) => (which === 'http' ? s.httpBracket : s.mailBracket))
      .filter((b) => b.lo !== null && b.hi !== null);
    if (open.length > 0)
      return `not narrowed (${open.map((b) => `${fmt(b.lo as number)}–${fmt(b.hi as number)}`).join(', ')})`;
    return bracket.hi !== null ? `< ${fmt(bracket.hi)}` : '–';
  }
  if (narrowed === false) return `${fmt(value)}–${fmt(bracket.hi as number)} (not narrowed)`;
  return range && range[0] !== range[1]
    ? `${fmt(value)} (${fmt(range[0])}–${fmt(range[1])})`
    : fmt(value);
}

function crashLoses(v: Subject): string {
  if (!subjectFacts(v).sendsMail) return '–';
  return {
    'reply-waits': 'no: the reply waits for the send',
    'stored-twice': 'no (may send twice)',
    stored: 'no',
    memory: 'yes: the queue is in memory',
  }[crashFate(v)];
}

function entries(ev: Evidence, name: string): BreakingPoint[] {
  return ev.run(name).summary.breakingPoints ?? [];
}

/** The lower of an entry's two limits where both are known: the one that binds. */
function binding(e: BreakingPoint): 'http' | 'mail' | null {
  if (e.mailLimitedBy !== 'share') return e.limitedBy === 'slo' ? 'http' : null;
  const http = e.httpMaxRatePerSec ?? Number.POSITIVE_INFINITY;
  const mail = e.mailMaxRatePerSec ?? 0;
  return mail <= http ? 'mail' : 'http';
}

/** The e-mail ceiling c/L the entries' model gives (the same for every label of a run). */
function ceilingOf(entries: BreakingPoint[]): number | null {
  return entries.find((e) => e.predicted.mailRatePerSec)?.predicted.mailRatePerSec ?? null;
}

function searchesOf(e: BreakingPoint | undefined): number {
  return e?.searches?.length ?? 1;
}

export const GENERATORS: Record<string, (ev: Evidence, p: Params, page: string) => string> = {
  /** The README's table: each strategy's limits at 0 and 500 ms, and what a crash costs. */
  'limits-table': (ev, p) => {
    const fast = entries(ev, p.fast ?? 'breaking-point-0ms');
    const slow = entries(ev, p.slow ?? 'breaking-point-500ms');
    const rows = slow
      .filter((e) => subjectFacts(e.variant).sendsMail)
      .map((e) => {
        const at0 = fast.find((f) => f.label === e.label);
        const bind = binding(e);
        const bold = (text: string, which: 'http' | 'mail') =>
          bind === which ? `**${text}**` : text;
        return `| \`${e.label}\` | ${at0 ? limitText(at0, 'http') : '–'} | ${bold(limitText(e, 'http'), 'http')} | ${bold(limitText(e, 'mail'), 'mail')} | ${crashLoses(e.variant)} |`;
      });
    return [
      '| variant | replies hold, SMTP 0 ms | replies hold, SMTP 500 ms | e-mail keeps up, 500 ms | a crash loses mail? |',
      '|---|---:|---:|---:|---|',
      ...rows,
    ].join('\n');
  },

  /** Where a pair of breaking-point runs comes from: machine, settings, searches, commit, staleness. */
  'limits-source': (ev, p, page) => {
    const fast = p.fast ?? 'breaking-point-0ms';
    const slow = p.slow ?? 'breaking-point-500ms';
    const run = ev.run(slow).run;
    const s = run.scenario;
    const n = searchesOf(entries(ev, slow)[0]);
    const stale = ev.stale(fast) || ev.stale(slow);
    const commits = [...new Set([ev.made(fast).commit, ev.made(slow).commit])]
      .map((c) => `\`${(c ?? 'unknown').slice(0, 7)}\``)
      .join(' and ');
    return (
      `Where each strategy breaks on this machine (${run.machine.cpuModel}, ${run.machine.cores} cores; ` +
      `scrypt 2^${s.hashCost} per sign-up; ${s.transport.maxConnections} SMTP connections; SLO p99 ≤ ` +
      `${s.breakingPoint.sloP99Ms / 1000} s; e-mail keeps up when ≥ ${Math.round(s.breakingPoint.mailShare * 100)} % ` +
      `arrives in time), in sign-ups per second, from the reference runs ([0 ms](${ev.link(fast, page)}), ` +
      `[500 ms](${ev.link(slow, page)}) SMTP latency; ${n === 1 ? 'one search each' : `the median of ${n} searches, their range in brackets`}, ` +
      `made at ${commits}${stale ? `, [older than the code](${path.relative(path.dirname(path.join(REPO_ROOT, page)), path.join(REPO_ROOT, 'results/README.md'))})` : ''}):`
    );
  },

  /** docs/findings.md's table: both limits at 0 and 500 ms, each beside its model. */
  'limits-by-latency': (ev, p) => {
    const fast = entries(ev, p.fast ?? 'breaking-point-0ms');
    const slow = entries(ev, p.slow ?? 'breaking-point-500ms');
    const withModel = (e: BreakingPoint | undefined, which: 'http' | 'mail') => {
      if (!e) return '–';
      const text = limitText(e, which);
      const model = which === 'http' ? e.predicted.httpRatePerSec : e.predicted.mailRatePerSec;
      const label = which === 'http' ? 'model' : 'c/L =';
      const bold = binding(e) === which && e.predicted.mailRatePerSec !== null;
      return `${bold ? `**${text}**` : text}${model !== null && text !== '–' ? ` (${label} ${fmt(model)})` : ''}`;
    };
    const labels = [...new Set([...fast, ...slow].map((e) => e.label))];
    const rows = labels.map((label) => {
      const f = fast.find((e) => e.label === label);
      const sl = slow.find((e) => e.label === label);
      return `| ${label} | ${withModel(f, 'http')} | ${f ? limitText(f, 'mail') : '–'} | ${withModel(sl, 'http')} | ${withModel(sl, 'mail')} |`;
    });
    return [
      '| variant | HTTP limit, 0 ms SMTP | e-mail limit, 0 ms | HTTP limit, 500 ms SMTP | e-mail limit, 500 ms |',
      '|---|---:|---:|---:|---:|',
      ...rows,
    ].join('\n');
  },

  /** The README's two findings under the table, their figures and comparisons from the runs. */
  'limits-findings': (ev, p) => {
    const fast = entries(ev, p.fast ?? 'breaking-point-0ms').filter((e) => e.httpMaxRatePerSec);
    const slow = entries(ev, p.slow ?? 'breaking-point-500ms');
    const http0 = fast.map((e) => e.httpMaxRatePerSec as number);
    const errors = fast
      .filter((e) => e.predicted.httpRatePerSec)
      .map(
        (e) => ((e.httpMaxRatePerSec as number) / (e.predicted.httpRatePerSec as number) - 1) * 100,
      );
    const pct = (v: number) => `${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(Math.round(v))} %`;
    const cL = ceilingOf(slow);
    const mailers = slow.filter((e) => e.mailLimitedBy === 'share' && e.mailMaxRatePerSec !== null);
    const atCeiling = mailers.filter((e) => cL && (e.mailMaxRatePerSec as number) >= 0.5 * cL);
    const below = slow.filter((e) => e.mailLimitedBy === 'share' && !atCeiling.includes(e));
    const replyFirst = atCeiling.filter((e) => !subjectFacts(e.variant).repliesAfterSend);
    const waits = atCeiling.filter((e) => subjectFacts(e.variant).repliesAfterSend);
    const http500 = replyFirst.map((e) => e.httpMaxRatePerSec ?? e.httpBracket.lo ?? 0);
    const run = ev.run(p.slow ?? 'breaking-point-500ms').run.scenario;
    const lines = [
      `- With a fast SMTP server the CPU sets the limit: every variant's replies hold up to ${span(http0, fmt)}/s, ` +
        `the e-mail's own work per sign-up making the difference; the model from the CPU per sign-up is off by ${pct(Math.min(...errors))} to ${pct(Math.max(...errors))}.`,
    ];
    if (cL !== null)
      lines.push(
        `- With ${run.smtp.latency.kind === 'fixed' ? `${run.smtp.latency.ms} ms` : 'the SMTP latency'} per message, ` +
          `${run.transport.maxConnections} connections send at most c/L = ${fmt(cL)} e-mails/s whatever the strategy: ` +
          `e-mail keeps up to ${span(
            atCeiling.map((e) => e.mailMaxRatePerSec as number),
            fmt,
          )}/s` +
          (below.length > 0
            ? ` (${below.map((e) => `\`${e.label}\` only ${limitText(e, 'mail')}`).join(', ')})`
            : '') +
          `; ${waits.map((e) => `\`${e.label}\``).join(', ')} ${waits.length === 1 ? 'turns' : 'turn'} that ceiling into ${waits.length === 1 ? 'its' : 'their'} reply limit (${span(
            waits.map((e) => e.httpMaxRatePerSec ?? 0),
            fmt,
          )}/s), ` +
          `the others reply within the SLO up to ${span(http500, fmt)}/s (${span(
            http500.map((v) => v / cL),
            fmt,
          )}× c/L) while their backlog grows.`,
      );
    return lines.join('\n');
  },

  /**
   * Which figures are physics and which are this machine's CPU: c/L holds on any machine; a
   * CPU-bound limit travels as the cores it used (limit × CPU per sign-up).
   */
  'limits-portable': (ev, p) => {
    const fast = entries(ev, p.fast ?? 'breaking-point-0ms').filter(
      (e) => e.httpMaxRatePerSec !== null && e.predicted.cpuMsPerRequest !== null,
    );
    const slow = entries(ev, p.slow ?? 'breaking-point-500ms');
    const run = ev.run(p.fast ?? 'breaking-point-0ms').run;
    const cores = fast.map(
      (e) => ((e.httpMaxRatePerSec as number) * (e.predicted.cpuMsPerRequest as number)) / 1000,
    );
    const cpu = fast.map((e) => e.predicted.cpuMsPerRequest as number);
    const cL = ceilingOf(slow);
    return [
      `Which of these figures travel: ${cL !== null ? `the e-mail ceiling c/L (${fmt(cL)}/s here) is arithmetic on the connections and the provider's latency, the same on any machine; ` : ''}` +
        `the CPU-bound limits are this machine's (${run.machine.cpuModel}, ${run.machine.cores} cores, shared with the harness). ` +
        `At its limit with SMTP at once each API used ${span(cores)} cores' worth of CPU ` +
        `(the limit × its CPU per sign-up, ${span(cpu, (n) => n.toFixed(0))} ms at the lowest step, which overstates it a little: the JIT is still ` +
        'compiling there). On another machine, expect the cores the harness leaves the API divided by the CPU per sign-up measured there.',
    ].join('\n');
  },

  /**
   * A section of a run's summary.md (without its heading), as the run's own code wrote it: the one
   * titled `section`, or with `rate`, the one of that arrival rate ("… (16.7/s)"); with
   * `table=only`, its table alone, with `list=only`, its list alone.
   */
  'summary-section': (ev, p) => {
    const run = ev.run(p.run as string);
    const md = renderSummaryMarkdown(run.summary, run.run);
    const lines = md.split('\n');
    const start = p.rate
      ? lines.findIndex((l) => l.startsWith('## ') && l.endsWith(` (${p.rate}/s)`))
      : lines.indexOf(`## ${p.section}`);
    if (start < 0)
      throw new Error(`${p.run}'s summary has no section "${p.section ?? `at ${p.rate}/s`}"`);
    const rest = lines.slice(start + 1);
    const end = rest.findIndex((l) => /^## /.test(l));
    const section = end < 0 ? rest : rest.slice(0, end);
    const kept =
      p.table === 'only'
        ? section.filter((l) => l.startsWith('|'))
        : p.list === 'only'
          ? section.filter((l) => l.startsWith('- '))
          : section;
    return kept.join('\n').trim();
  },

  /**
   * A chart of a run, copied next to the page; the block is its image line. `chart` may list
   * several names, the first the run has taken (charts were named differently before).
   */
  chart: (ev, p, page) => {
    const run = ev.run(p.run as string);
    const found = (p.chart ?? '').split(',').flatMap((name) => {
      const svg = path.join(run.dir, 'charts', `${name}.svg`);
      // A reference run keeps its charts compressed.
      return [svg, `${svg}.gz`].filter((f) => existsSync(f)).map((from) => ({ name, from }));
    })[0];
    if (!found) throw new Error(`${p.run} has no chart ${p.chart}`);
    const to = path.join(REPO_ROOT, p.file as string);
    ev.copies.push({ from: found.from, to });
    const rel = path.relative(path.dirname(path.join(REPO_ROOT, page)), to);
    return `![${run.run.scenario.name}: ${found.name} (${p.run})](${rel})`;
  },

  /** results/README.md's list: each reference run, its command, use, commit and state. */
  'results-index': (ev, _p, page) => {
    const lines: string[] = [];
    for (const e of ev.manifest) {
      const made = ev.state.runs[e.name];
      if (!made) {
        lines.push(`- **${e.name}**: not made yet. \`${commandOf(e.args)}\`. For ${e.for}.`);
        continue;
      }
      const args = JSON.stringify(made.args) === JSON.stringify(e.args) ? e.args : made.args;
      const state = ev.stale(e.name) ? '**older than the code**' : 'current';
      lines.push(
        `- **${e.name}** → [\`${made.dir}/\`](${ev.link(e.name, page, '')}): \`${commandOf(args)}\` ` +
          `(${made.minutes} min on ${made.cpuModel}, commit \`${(made.commit ?? 'unknown').slice(0, 7)}\`, ${state}). ` +
          `For ${e.for}.`,
      );
    }
    return lines.join('\n');
  },
};
