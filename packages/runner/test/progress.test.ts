/**
 * The progress on stderr fits the terminal: the redrawn line never wraps (a wrapped row would stay
 * behind at every update), the lines that stay wrap at the width, and --quiet draws no live line.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { renderTerminalSummary } from '../src/cli/terminal.ts';
import { Progress } from '../src/run/progress.ts';
import { readJson, smokeRun } from './helpers.ts';

function stream(columns: number | undefined, isTTY: boolean) {
  const out: string[] = [];
  return {
    out,
    s: { isTTY, ...(columns !== undefined ? { columns } : {}), write: (t: string) => out.push(t) },
  };
}

const event = {
  phase: 'measure' as const,
  elapsedMs: 12_000,
  sent: 1234,
  scheduled: 2000,
  completed: 1200,
  inFlight: 34,
  errors: 0,
};

describe('progress on stderr', () => {
  it('redraws a line cut to the terminal width, at 80 and 40 columns', () => {
    for (const columns of [80, 40]) {
      const { out, s } = stream(columns, true);
      const p = new Progress(s);
      p.cell('[12/24] background-aa 1000 req (step 3, 16.7/s)', event, 1234);
      p.phase('[12/24] background-aa 1000 req', 'draining: 120 e-mails owed, waiting up to 60 s');
      for (const w of out) {
        expect(w.startsWith('\r\x1b[2K')).toBe(true);
        expect(w.slice('\r\x1b[2K'.length).length).toBeLessThan(columns);
      }
    }
  });

  it('wraps the lines that stay at the width (80 when not a terminal)', () => {
    const { out, s } = stream(undefined, false);
    const p = new Progress(s);
    const long = `mongo: using the mailbench stand-in ${'(a wire-compatible in-memory server) '.repeat(5)}`;
    p.log(long);
    const lines = out.join('').trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines.join(' ').replace(/\s+/g, ' ')).toBe(long.trim().replace(/\s+/g, ' '));
  });

  it('draws no live line with --quiet, and still prints the lines that stay', () => {
    const { out, s } = stream(120, true);
    const p = new Progress(s, { quiet: true });
    p.cell('inline', event, 10);
    p.phase('inline', 'warm-up');
    expect(out).toEqual([]);
    p.log('inline: avg 12 ms');
    expect(out).toEqual(['inline: avg 12 ms\n']);
  });

  it('clears the status line before a line that stays, on a terminal', () => {
    const { out, s } = stream(80, true);
    const p = new Progress(s);
    p.cell('inline', event, 10);
    p.log('inline: avg 12 ms');
    expect(out.slice(1)).toEqual(['\r\x1b[2K', 'inline: avg 12 ms\n']);
  });
});

describe('the summary on stdout', () => {
  it('fits 80 columns by dropping the least needed columns first, and 120 at most', async () => {
    const { runDir } = await smokeRun();
    const summary = readJson(path.join(runDir, 'summary.json')) as never;
    const run = readJson(path.join(runDir, 'run.json')) as never;
    const narrow = renderTerminalSummary(summary, run, 80).split('\n');
    for (const line of narrow) expect(line.length, line).toBeLessThanOrEqual(80);
    const header = narrow.find((l) => l.startsWith('variant')) as string;
    expect(header).toMatch(/avg send ms .*p99 .*valid$/);
    expect(header).not.toContain('p50');
    const wide = renderTerminalSummary(summary, run, 200).split('\n');
    expect(Math.max(...wide.map((l) => l.length))).toBeLessThanOrEqual(120);
    expect(wide.find((l) => l.startsWith('variant'))).toContain('p50');
    // (Its time includes waiting for the suite's shared smoke run, as in report.test.ts.)
  }, 180_000);
});
