/**
 * Progress on stderr: one rewritten line on a terminal, plain lines every few seconds otherwise.
 */
import type { ProgressEvent } from '@mailbench/loadgen';
import { subjectFacts } from '../config/subjects.ts';
import type { CellResult, StepResult } from '../shapes/results.ts';
import { wrapText } from '../config/flag-help.ts';

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The width a line must fit: the terminal's, or 80 when the output is not a terminal. */
export function widthOf(stream: { isTTY?: boolean; columns?: number }): number {
  return stream.isTTY && stream.columns && stream.columns > 20 ? stream.columns : 80;
}

/** A line that stays, wrapped at the width with its continuation indented. */
export function wrapLine(line: string, width: number): string {
  if (line.length <= width) return line;
  const indent = /^\s*/.exec(line)?.[0] ?? '';
  const [first = '', ...rest] = wrapText(line, width - 2);
  return [indent + first, ...rest.map((l) => `${indent}  ${l}`)].join('\n');
}

/** A line that is redrawn in place: cut to the width, so that it never wraps (a wrapped row would stay). */
export function fitLine(line: string, width: number): string {
  return line.length < width ? line : `${line.slice(0, width - 2)}…`;
}

export class Progress {
  private readonly stream: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  private readonly tty: boolean;
  private readonly quiet: boolean;
  private lastPlainMs = 0;
  private lineOpen = false;

  constructor(
    stream: { write(text: string): unknown; isTTY?: boolean; columns?: number } = process.stderr,
    options: { quiet?: boolean } = {},
  ) {
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.quiet = options.quiet ?? false;
  }

  private write(text: string): void {
    this.stream.write(text);
  }

  /** Read at every line: a terminal may be resized while a run goes. */
  private get width(): number {
    return widthOf(this.stream);
  }

  /** Redraws the status line: the cursor to the row's start, the row cleared, the line cut to fit. */
  private redraw(line: string): void {
    this.write(`\r\x1b[2K${fitLine(line, this.width)}`);
    this.lineOpen = true;
  }

  /** A line that stays; the status line it follows is cleared, not left behind. */
  log(line: string): void {
    if (this.lineOpen) {
      this.write(this.tty ? '\r\x1b[2K' : '\n');
      this.lineOpen = false;
    }
    this.write(
      `${line
        .split('\n')
        .map((l) => wrapLine(l, this.width))
        .join('\n')}\n`,
    );
  }

  /**
   * A phase of a cell that has no progress of its own (warm-up, drain): a line that the next update
   * replaces. Off with --quiet.
   */
  phase(label: string, text: string): void {
    if (this.quiet) return;
    const line = `${label} ${text}`;
    if (this.tty) this.redraw(line);
    else this.write(`${wrapLine(line, this.width)}\n`);
  }

  /** Live status of the cell being measured. Off with --quiet. */
  cell(label: string, event: ProgressEvent, runEtaSec: number): void {
    if (this.quiet) return;
    const line =
      `${label} ${event.phase === 'warmup' ? 'warm-up ' : ''}${formatDuration(event.elapsedMs / 1000)}: ` +
      `sent ${event.sent}/${event.scheduled}, completed ${event.completed}, in flight ${event.inFlight}, errors ${event.errors}; ` +
      `run ETA ${formatDuration(runEtaSec)}`;
    if (this.tty) {
      this.redraw(line);
      return;
    }
    const now = Date.now();
    if (now - this.lastPlainMs >= 5000 || event.completed === event.scheduled) {
      this.lastPlainMs = now;
      this.write(`${wrapLine(line, this.width)}\n`);
    }
  }

  end(): void {
    if (this.lineOpen) this.write(this.tty ? '\r\x1b[2K' : '\n');
    this.lineOpen = false;
  }
}
export function describeStep(label: string, r: StepResult): string {
  if (r.status === 'failed') return `${label}: FAILED (${r.error})`;
  const l = r.latencyMs;
  const share = r.emails?.share ?? null;
  const mail = r.emails
    ? `; e-mail ${share === null ? 'none owed' : `${Math.round(share * 100)} % by the deadline`}, backlog ${r.emails.backlogGrowthPerSec ?? '–'}/s`
    : '';
  const verdict = r.generatorLimited
    ? 'GENERATOR LIMIT'
    : `HTTP ${r.httpOk ? 'ok' : 'broken'}${r.mailOk === null ? '' : `, e-mail ${r.mailOk ? 'keeps up' : 'behind'}`}`;
  const latency = l
    ? `p99 ${l.fromIntended.p99.toFixed(0)} ms, mean ${l.fromIntended.mean.toFixed(0)} ms`
    : 'no 2xx answer';
  return `${label}: ${latency}, errors ${r.errors}${mail} → ${verdict}`;
}

export function describeCell(label: string, r: CellResult, tookSec: number): string {
  if (r.status === 'failed')
    return `${label}: FAILED (${r.error})${r.serverStderrTail ? `\n  server stderr:\n    ${r.serverStderrTail.split('\n').join('\n    ')}` : ''}`;
  const l = r.latencyMs;
  const e = r.emails;
  const mails = !subjectFacts(r.variant).sendsMail
    ? ''
    : `; e-mails ${e.delivered}/${e.expected}${e.lost ? `, ${e.lost} lost` : ''}${e.abandoned ? `, ${e.abandoned} abandoned` : ''}${e.duplicated ? `, ${e.duplicated} dup.` : ''}`;
  const latency = l
    ? `avg ${l.fromSend.mean.toFixed(0)} ms from send, ${l.fromIntended.mean.toFixed(0)} from intended, p99 ${l.fromIntended.p99.toFixed(0)}`
    : 'no expected answer';
  return `${label}: ${latency}; errors ${r.errors}${mails}; ${r.valid ? 'valid' : `INVALID (${r.reasons.join('; ')})`}; took ${formatDuration(tookSec)}`;
}
