/**
 * `pnpm bench --export artillery|jmeter|k6`: the scripts' shape for even schedules and stages,
 * and the scripts run by the engines themselves against the built-in API (started by hand on a
 * sink of the test's own): exactly the scheduled number of 201s, and every e-mail at the sink.
 * Artillery and JMeter run where `pnpm setup:engines` installed them (CI does, and sets
 * MAILBENCH_REQUIRE_ENGINES=1 so that a missing engine fails instead of skipping). k6 cannot be
 * installed here: its script is checked for shape and parsed, not run.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMongo, type MongoHandle } from '@mailbench/mongo';
import { startSmtpSink, type SmtpSink } from '@mailbench/smtp-sink';
import { stagesCount } from '@mailbench/loadgen';
import {
  findArtillery,
  findJMeter,
  findK6,
  jmeterCommand,
  runCommand,
} from '../src/services/engines.ts';
import { bench, startApiByHand } from './helpers.ts';
import { jmeterGroups, jmeterPlan } from '../src/export/export.ts';
import { k6Script } from '../src/export/k6.ts';
import { artilleryScript } from '../src/export/artillery.ts';
import { exportSchedules } from '../src/export/schedules.ts';

const REQUIRE_ENGINES = process.env.MAILBENCH_REQUIRE_ENGINES === '1';

async function exportScript(engine: string, args: string[]): Promise<string> {
  const out = mkdtempSync(path.join(os.tmpdir(), `mb-export-${engine}-`));
  const r = await bench(['--export', engine, ...args, '--out', out]);
  expect(r.status, r.stderr).toBe(0);
  const file = r.stdout.trim().split('\n')[0] as string;
  expect(path.dirname(file)).toBe(out);
  expect(r.stderr).toContain('Distributed');
  return file;
}

const ramp = { durationSec: 4, from: 2, to: 10 };
const stages = [{ durationSec: 3, rate: 5 }, ramp];

describe('export: shape', () => {
  it('the even schedule: Artillery arrivalCount, JMeter N threads over the ramp-up, k6 constant arrival rate', () => {
    const [schedule] = exportSchedules({ requests: [125], durationSec: 10, stages: null });
    const yml = artilleryScript(schedule!, { timeoutSec: 60 }, 'http://127.0.0.1:3000', 'p.cjs', [
      'header',
    ]);
    expect(yml).toMatch(/duration: 10\n\s+arrivalCount: 125/);
    expect(yml).toContain('url: "/api/users"');
    const jmx = jmeterPlan(schedule!, { timeoutSec: 60 }, 'http://127.0.0.1:3000', ['header']);
    expect(jmx).toContain('<stringProp name="ThreadGroup.num_threads">125</stringProp>');
    expect(jmx).toContain('<stringProp name="ThreadGroup.ramp_time">10</stringProp>');
    expect(jmx).toContain('<stringProp name="LoopController.loops">1</stringProp>');
    const k6 = k6Script(schedule!, { timeoutSec: 60 }, 'http://127.0.0.1:3000', ['header']);
    expect(k6).toContain("executor: 'constant-arrival-rate'");
    expect(k6).toMatch(/rate: 125,\s+timeUnit: '10s',\s+duration: '10s'/);
  });

  it("stages: the same count in every engine's form, ramps included", () => {
    const [schedule] = exportSchedules({ requests: [stagesCount(stages)], durationSec: 7, stages });
    expect(schedule!.count).toBe(stagesCount(stages));
    // JMeter: one group per constant stage, one per second of a ramp; the total holds.
    const groups = jmeterGroups(schedule!);
    expect(groups.reduce((a, g) => a + g.threads, 0)).toBe(schedule!.count);
    expect(groups[0]).toEqual({ threads: 15, rampSec: 3, delaySec: 0 });
    expect(groups.slice(1).map((g) => g.delaySec)).toEqual([3, 4, 5, 6]);
    const yml = artilleryScript(schedule!, { timeoutSec: 60 }, 'http://x', 'p.cjs', []);
    expect(yml).toMatch(/duration: 3\n\s+arrivalCount: 15/);
    expect(yml).toMatch(/duration: 4\n\s+arrivalRate: 2\n\s+rampTo: 10/);
    const k6 = k6Script(schedule!, { timeoutSec: 60 }, 'http://x', []);
    expect(k6).toContain("executor: 'ramping-arrival-rate'");
    // 5/s held for 3 s, a jump to 2/s, a ramp to 10/s over 4 s.
    expect(k6).toMatch(
      /\{ target: 5, duration: '3s' \},\s+\{ target: 2, duration: '0s' \},\s+\{ target: 10, duration: '4s' \}/,
    );
  });

  it('several request counts: one script each, named by the count; the k6 script parses as a module', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-export-'));
    const r = await bench([
      '--export',
      'k6',
      '--requests',
      '10,20',
      '--duration',
      '5s',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const files = r.stdout.trim().split('\n');
    expect(files.map((f) => path.basename(f))).toEqual(['default-10.k6.js', 'default-20.k6.js']);
    // Parsed as an ES module (its k6/* imports are not resolved by --check).
    const copy = path.join(out, 'check.mjs');
    copyFileSync(files[0] as string, copy);
    const check = spawnSync(process.execPath, ['--check', copy], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
  });
});

let mongo: MongoHandle;
let sink: SmtpSink;
let api: ChildProcess;
let url: string;

beforeAll(async () => {
  mongo = await startMongo({ engine: 'standin' });
  sink = await startSmtpSink();
  ({ child: api, url } = await startApiByHand([
    '--variant',
    'background',
    '--port',
    '0',
    '--mongo-uri',
    mongo.uri,
    '--db-name',
    'exported',
    '--smtp-port',
    String(sink.port),
    '--hash-cost',
    '0',
    '--log-level',
    'silent',
  ]));
}, 60_000);

afterAll(async () => {
  api?.kill('SIGKILL');
  await sink?.close();
  await mongo?.stop();
});

describe('export: run by the engines against the built-in API', () => {
  const artillery = findArtillery();
  it.skipIf(!artillery && !REQUIRE_ENGINES)(
    'Artillery runs the exported script: exactly 125 answers of 201, and twice in a row (bodies unique across runs)',
    async () => {
      expect(artillery, 'Artillery is not installed: pnpm setup:engines').not.toBeNull();
      const file = await exportScript('artillery', [
        '--target',
        url,
        '--requests',
        '125',
        '--duration',
        '10s',
      ]);
      for (const round of [1, 2]) {
        sink.reset();
        const report = path.join(path.dirname(file), `report-${round}.json`);
        const r = await runCommand(artillery as string, ['run', file, '--output', report], {
          cwd: path.dirname(file),
          timeoutMs: 90_000,
          env: { ...process.env, ARTILLERY_DISABLE_TELEMETRY: 'true' },
        });
        expect(r.code, r.stderr.slice(-2000)).toBe(0);
        const counters = JSON.parse(readFileSync(report, 'utf8')).aggregate.counters as Record<
          string,
          number
        >;
        expect(counters['http.requests']).toBe(125);
        expect(counters['http.codes.201']).toBe(125);
        expect(counters['vusers.failed'] ?? 0).toBe(0);
        await sink.waitFor(125, { timeoutMs: 20_000 });
        expect(sink.registrationCounts().size).toBe(125);
      }
    },
    240_000,
  );

  const jmeter = findJMeter();
  it.skipIf(!jmeter && !REQUIRE_ENGINES)(
    'JMeter (Debian 2.13) runs the exported plan: exactly 125 samples, every one a 201',
    async () => {
      expect(jmeter, 'JMeter is not installed: pnpm setup:engines').not.toBeNull();
      const file = await exportScript('jmeter', [
        '--target',
        url,
        '--requests',
        '125',
        '--duration',
        '10s',
      ]);
      sink.reset();
      const jtl = path.join(path.dirname(file), 'out.jtl');
      const cmd = jmeterCommand(jmeter as string, [
        '-n',
        '-t',
        file,
        '-l',
        jtl,
        '-j',
        path.join(path.dirname(file), 'jmeter.log'),
        '-Jjmeter.save.saveservice.print_field_names=true',
      ]);
      const r = await runCommand(cmd.command, cmd.args, {
        cwd: path.dirname(file),
        timeoutMs: 120_000,
      });
      expect(r.code, `${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`).toBe(0);
      const [header, ...rows] = readFileSync(jtl, 'utf8').trim().split('\n');
      const code = (header as string).split(',').indexOf('responseCode');
      expect(code).toBeGreaterThanOrEqual(0);
      expect(rows.length).toBe(125);
      expect(rows.filter((row) => row.split(',')[code] === '201').length).toBe(125);
      await sink.waitFor(125, { timeoutMs: 20_000 });
      expect(sink.registrationCounts().size).toBe(125);
    },
    240_000,
  );

  const k6 = findK6();
  it.skipIf(!k6)(
    'k6 runs the exported script (not run where k6 is not installed: it has no package here)',
    async () => {
      const file = await exportScript('k6', [
        '--target',
        url,
        '--requests',
        '50',
        '--duration',
        '5s',
      ]);
      const r = await runCommand(k6 as string, ['run', '--quiet', file], {
        cwd: path.dirname(file),
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stdout).toMatch(/http_reqs[.\s:]+50\b/);
    },
    90_000,
  );
});
