/**
 * Progress on stderr: one rewritten line on a terminal, plain lines every few seconds otherwise.
 */
import type { ProgressEvent } from '@mailbench/loadgen';
import { subjectFacts } from '../config/subjects.ts';
import type { CellResult, StepResult } from '../shapes/results.ts';

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly tty: boolean;
  private lastPlainMs = 0;
  private lineOpen = false;
  private readonly write: (text: string) => void;

  constructor(stream: { write(text: string): unknown; isTTY?: boolean } = process.stderr) {
    this.tty = Boolean(stream.isTTY);
    this.write = (text) => stream.write(text);
  }

  /** A line that stays. */
  log(line: string): void {
    if (this.lineOpen) {
      this.write('\n');
      this.lineOpen = false;
    }
    this.write(`${line}\n`);
  }

  /**
   * A phase of a cell that has no progress of its own (warm-up, drain): a line that the next update
   * replaces.
   */
  phase(label: string, text: string): void {
    const line = `${label} ${text}`;
    if (this.tty) {
      this.write(`\r\x1b[2K${line}`);
      this.lineOpen = true;
    } else {
      this.write(`${line}\n`);
    }
  }

  /** Live status of the cell being measured. */
  cell(label: string, event: ProgressEvent, runEtaSec: number): void {
    const line =
      `${label} ${event.phase === 'warmup' ? 'warm-up ' : ''}${formatDuration(event.elapsedMs / 1000)}: ` +
      `sent ${event.sent}/${event.scheduled}, completed ${event.completed}, in flight ${event.inFlight}, errors ${event.errors}; ` +
      `run ETA ${formatDuration(runEtaSec)}`;
    if (this.tty) {
      this.write(`\r\x1b[2K${line}`);
      this.lineOpen = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlainMs >= 5000 || event.completed === event.scheduled) {
      this.lastPlainMs = now;
      this.write(`${line}\n`);
    }
  }

  end(): void {
    if (this.lineOpen) this.write('\n');
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
