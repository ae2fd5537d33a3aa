/**
 * --pin-cores: the API under test runs on the machine's last core and the harness on the others,
 * as the kernel reports their affinity while a run goes; the runner gets its own cores back after.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { coresOf, pinningPlan, pinningUnavailable } from '../src/services/pinning.ts';
import {
  bench,
  type CliResult,
  descendants,
  readJson,
  report,
  runDirIn,
  smokeRun,
} from './helpers.ts';

/** This process's descendants, each with its command line and the cores it may run on. */
function processes(): Array<{ pid: number; cmd: string; cores: string }> {
  return descendants(process.pid).flatMap((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return [{ pid, cmd, cores: /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '' }];
    } catch {
      return []; // gone
    }
  });
}

const why = pinningUnavailable();

describe.skipIf(why !== null)('--pin-cores', () => {
  it('runs the API on the last core and the harness on the others, and gives the runner its cores back', async () => {
    const before = coresOf(process.pid);
    const plan = pinningPlan();
    const seen = new Map<string, Set<string>>();
    const watch = setInterval(() => {
      for (const d of processes()) {
        const kind = /target-api|api-server|server\.m?js/.test(d.cmd)
          ? 'api'
          : /standin|stand-in/.test(d.cmd)
            ? 'database'
            : null;
        if (!kind) continue;
        if (!seen.has(kind)) seen.set(kind, new Set());
        seen.get(kind)!.add(d.cores);
      }
    }, 50);
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-pin-'));
    let r: CliResult;
    try {
      r = await bench([
        '--scenario',
        'smoke',
        '--variants',
        'background',
        '--requests',
        '30',
        '--pin-cores',
        '--out',
        out,
        '--json',
      ]);
    } finally {
      clearInterval(watch);
    }
    expect(r.status, r.stderr).toBe(0);
    const run = readJson(path.join(runDirIn(out), 'run.json'));
    expect(run.pinning).toEqual(plan);
    expect(run.scenario.pinCores).toBe(true);
    expect(run.overrides.flags).toContain('--pin-cores');
    // What the kernel said while the run went: the API only ever on its core, the stand-in on the
    // harness's (it is started by the pinned runner).
    expect([...(seen.get('api') ?? [])]).toEqual([plan.api.join(',')]);
    if (seen.has('database'))
      expect([...seen.get('database')!]).toEqual([
        plan.harness.length > 1 ? `0-${plan.harness.length - 1}` : '0',
      ]);
    expect(coresOf(process.pid)).toEqual(before);
    const summary = readFileSync(path.join(runDirIn(out), 'summary.md'), 'utf8');
    expect(summary).toContain(`CPU pinning: the API on core ${plan.api.join(',')}`);

    // Compared with the unpinned smoke run: the difference in configuration is a warning, printed
    // and written into the comparison's files.
    const smoke = await smokeRun();
    const pinned = runDirIn(out);
    const cmpOut = mkdtempSync(path.join(os.tmpdir(), 'mb-pin-cmp-'));
    const cmp = await report(['--compare', smoke.runDir, pinned, '--out', cmpOut]);
    expect(cmp.status, cmp.stderr).toBe(0);
    expect(cmp.stderr).toContain('warning: the runs differ in pinCores');
    const written = readdirSync(cmpOut);
    expect(written).toHaveLength(2);
    for (const f of written)
      expect(readFileSync(path.join(cmpOut, f), 'utf8')).toContain('the runs differ in pinCores');
    expect(cmp.stdout).toMatch(/\| background \| 30 \|/);

    // A run with no cell in common: nothing to compare is a usage error, and nothing is written.
    const other = mkdtempSync(path.join(os.tmpdir(), 'mb-pin-other-'));
    const r20 = await bench([
      '--scenario',
      'smoke',
      '--variants',
      'no-email',
      '--requests',
      '20',
      '--out',
      other,
      '--json',
    ]);
    expect(r20.status, r20.stderr).toBe(0);
    const noneOut = mkdtempSync(path.join(os.tmpdir(), 'mb-pin-none-'));
    const none = await report(['--compare', runDirIn(other), pinned, '--out', noneOut]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('nothing to compare');
    expect(readdirSync(noneOut)).toEqual([]);
    // (Its time includes waiting for the suite's shared smoke run, as in report.test.ts.)
  }, 180_000);
});

describe.skipIf(why === null)('--pin-cores where it cannot pin', () => {
  it('is a usage error that says why', async () => {
    const r = await bench(['--scenario', 'smoke', '--pin-cores']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--pin-cores:');
  });
});
