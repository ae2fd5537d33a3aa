/**
 * --pin-cores: the API under test runs on the machine's last core and the harness on the others,
 * as the kernel reports their affinity while a run goes; the runner gets its own cores back after.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { coresOf, pinningPlan, pinningUnavailable } from '../src/services/pinning.ts';
import { bench, type CliResult, readJson, report, runDirIn, smokeRun } from './helpers.ts';

/** Every process whose parent chain leads to this one: pid, command line and allowed cores. */
function descendants(): Array<{ pid: number; cmd: string; cores: string }> {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: Array<{ pid: number; cmd: string; cores: string }> = [];
  for (const pid of parent.keys()) {
    let p: number | undefined = parent.get(pid);
    while (p !== undefined && p > 1 && p !== process.pid) p = parent.get(p);
    if (p !== process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const cores = /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '';
      out.push({ pid, cmd, cores });
    } catch {
      // gone
    }
  }
  return out;
}

const why = pinningUnavailable();

describe.skipIf(why !== null)('--pin-cores', () => {
  it('runs the API on the last core and the harness on the others, and gives the runner its cores back', async () => {
    const before = coresOf(process.pid);
    const plan = pinningPlan();
    const seen = new Map<string, Set<string>>();
    const watch = setInterval(() => {
      for (const d of descendants()) {
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
  });
});

describe.skipIf(why === null)('--pin-cores where it cannot pin', () => {
  it('is a usage error that says why', async () => {
    const r = await bench(['--scenario', 'smoke', '--pin-cores']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--pin-cores:');
  });
});
