/** Progress on stderr: one rewritten line on a terminal, plain lines every few seconds otherwise. */
import type { ProgressEvent } from '@mailbench/loadgen';

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

  constructor(stream: NodeJS.WriteStream = process.stderr) {
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

  /** A phase of a cell that has no progress of its own (warm-up, drain): a line that the next update replaces. */
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
