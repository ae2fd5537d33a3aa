/**
 * Overload said before it costs time: a scenario whose peak rate is above what this machine's last
 * capacity probe (same hash cost) carried gets a warning at the start, with the flags that change
 * it; probes from another host or another hash cost do not count.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastCapacity, overloadWarning, peakRate } from '../src/results/capacity-history.ts';
import { loadScenario } from '../src/config/scenario.ts';
import { bench } from './helpers.ts';

/** A run folder holding capacity probes, as pnpm bench --capacity writes them. */
function probeRun(
  out: string,
  runId: string,
  probes: Record<string, number>,
  over: { hostname?: string; hashCost?: number } = {},
): void {
  mkdirSync(path.join(out, runId), { recursive: true });
  const files = Object.keys(probes).map((v) => `${v}/capacity.json`);
  writeFileSync(
    path.join(out, runId, 'run.json'),
    JSON.stringify({
      runId,
      machine: { hostname: over.hostname ?? os.hostname() },
      scenario: { hashCost: over.hashCost ?? 4 },
      capacity: files,
    }),
  );
  for (const [variant, perSec] of Object.entries(probes)) {
    mkdirSync(path.join(out, runId, variant), { recursive: true });
    writeFileSync(
      path.join(out, runId, variant, 'capacity.json'),
      JSON.stringify({ variant, status: 'ok', requestsPerSec: perSec }),
    );
  }
}

describe('the overload warning', () => {
  it("finds the newest probe of this host at this hash cost, and its slowest variant's capacity", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-overload-'));
    probeRun(out, '20261201-000000-saturation', { inline: 50, outbox: 40 });
    probeRun(out, '20261202-000000-saturation', { inline: 9 }, { hashCost: 14 });
    probeRun(out, '20261203-000000-saturation', { inline: 1 }, { hostname: 'elsewhere' });
    expect(lastCapacity(out, { hashCost: 4, hostname: os.hostname() })).toEqual({
      runId: '20261201-000000-saturation',
      variant: 'outbox',
      perSec: 40,
    });
    expect(lastCapacity(out, { hashCost: 12, hostname: os.hostname() })).toBeNull();
    expect(lastCapacity(path.join(out, 'nothing-here'), { hashCost: 4, hostname: 'x' })).toBeNull();
  });

  it('compares the peak rate of requests and of stages', () => {
    const smoke = loadScenario('smoke');
    expect(peakRate(smoke)).toBe(15);
    expect(
      peakRate({
        ...smoke,
        stages: [
          { durationSec: 10, rate: 5 },
          { durationSec: 10, from: 5, to: 40 },
        ],
      }),
    ).toBe(40);
    const known = { runId: 'r', variant: 'outbox', perSec: 40 };
    expect(overloadWarning(smoke, () => known)).toBeNull();
    // A search without cells offers no rate to compare: the results folder is not even read.
    const unread = () => {
      throw new Error('read');
    };
    expect(overloadWarning(loadScenario('breaking-point'), unread)).toBeNull();
    expect(overloadWarning(smoke, () => ({ ...known, perSec: 10 }))).toMatch(
      /offers up to 15\.0 sign-ups\/s, more than the 10\.0\/s .*Lower --requests/,
    );
  });

  it('is printed at the start of a run, which still runs', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-overload-run-'));
    probeRun(out, '20261201-000000-saturation', { 'no-email': 1 });
    const r = await bench([
      '--scenario',
      'smoke',
      '--variants',
      'no-email',
      '--requests',
      '10',
      '--out',
      out,
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    // Wrapped at the width (80: not a terminal) like every line that stays.
    const lines = r.stderr.split('\n');
    const at = lines.findIndex((l) => l.startsWith('mailbench: warning:'));
    const block = [lines[at] as string];
    for (let k = at + 1; lines[k]?.startsWith('  '); k++) block.push(lines[k] as string);
    expect(block.length).toBeGreaterThan(1);
    for (const line of block) expect(line.length).toBeLessThanOrEqual(80);
    expect(r.stderr.replace(/\n\s+/g, ' ')).toMatch(
      /^mailbench: warning: this scenario offers up to 5\.0 sign-ups\/s, more than the 1\.0\/s this machine's last capacity probe carried \(no-email, run 20261201-000000-saturation, same hash cost\)/,
    );
  });
});
