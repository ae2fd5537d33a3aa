/**
 * The reference targets (the original experiment's Flask stack and its Node/Express API) and
 * JMeter as a cell engine. Without Python: the registry, the seed-flask matrix, what the
 * references refuse, the Flask targets left out where the seed stack is missing, JMeter's log read
 * back. With `pnpm setup:seed` (CI: MAILBENCH_REQUIRE_ENGINES=1 makes these run): every reference
 * target started by the CLI per cell, its users counted and its e-mails accounted at the sink,
 * the SMTP latency swept per cell, and its capacity probed. With JMeter: a cell sent by JMeter.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyOverrides, parseBenchArgs } from '../src/cli/args.ts';
import { findJMeter } from '../src/services/engines.ts';
import { jmeterSignupBody, jmeterStartEpochMs, samplesFromJtl } from '../src/trial/jmeter-cell.ts';
import { withDatabase } from '../src/targets/reference-targets.ts';
import { SignupNames } from '../src/config/requests.ts';
import { applyQuick, loadScenario } from '../src/config/scenario.ts';
import { subjectFacts, withoutSeedStackWhenMissing } from '../src/config/subjects.ts';
import { bench, readJson, resultsValidator, runDirIn } from './helpers.ts';
import { REFERENCE_NAMES } from '../src/shapes/scenario.ts';
import { seedStackMissing } from '../src/config/references.ts';
import { planCells } from '../src/run/plan.ts';

const REQUIRE = process.env.MAILBENCH_REQUIRE_ENGINES === '1';

function scenarioFile(data: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-ref-'));
  const file = path.join(dir, 'ref.json');
  writeFileSync(file, JSON.stringify(data));
  return file;
}

describe('the reference targets, without running them', () => {
  it('put the cell database into the connection string, keeping its options', () => {
    expect(withDatabase('mongodb://127.0.0.1:27017/?directConnection=true', 'mb_x')).toBe(
      'mongodb://127.0.0.1:27017/mb_x?directConnection=true',
    );
    expect(withDatabase('mongodb://u:p@a:1,b:2/admin', 'mb_y')).toBe('mongodb://u:p@a:1,b:2/mb_y');
    expect(() => withDatabase('http://example.test/', 'x')).toThrow(
      /not a MongoDB connection string/,
    );
  });

  it('promise what the original did: one e-mail per sign-up, no delivery, no retries', () => {
    expect(REFERENCE_NAMES).toEqual([
      'flask-no-email',
      'flask-blocking',
      'flask-thread',
      'express-inline',
    ]);
    expect(subjectFacts('flask-no-email').sendsMail).toBe(false);
    expect(subjectFacts('flask-blocking')).toMatchObject({
      sendsMail: true,
      repliesAfterSend: true,
      promisesDelivery: false,
    });
    expect(subjectFacts('flask-thread')).toMatchObject({
      sendsMail: true,
      repliesAfterSend: false,
    });
  });

  it('seed-flask is the original matrix: 750/800/850/1000 at 0 ms, then 750 at 500 ms, each target once', () => {
    const s = loadScenario('seed-flask');
    const cells = planCells(s);
    expect(cells.length).toBe(s.variants.length * 5);
    const at500 = cells.filter((c) => c.factor?.value === 500);
    expect(new Set(at500.map((c) => c.requests))).toEqual(new Set([750]));
    expect(at500.map((c) => c.label)).toContain('flask-blocking.l500');
    expect(s.smtp.greetingDelayMs).toBe(0);
    expect(s.reference).toEqual({
      workers: 20,
      workerClass: 'gevent',
      passwordHash: 'none',
      emailDelayMs: 0,
    });
    // --quick keeps the rates: 750 over 60 s is 125 over 10 s, at 500 ms too.
    const quick = applyQuick(s);
    expect(
      planCells(quick)
        .filter((c) => c.factor?.value === 500)
        .every((c) => c.requests === 125),
    ).toBe(true);
    // Other request counts run at every swept value.
    const other = applyOverrides(s, parseBenchArgs(['--requests', '40']).overrides);
    expect(planCells(other).length).toBe(s.variants.length * 2);
  });

  it("refuse what only mailbench's own API can do, and take their own settings from flags", () => {
    const base = {
      variants: ['flask-blocking', 'inline'],
      requests: [10],
      durationSec: 1,
      smtp: { latency: '0ms' },
      transport: {},
    };
    expect(() =>
      loadScenario(scenarioFile({ ...base, faults: { crash: { atSec: 0.5 } } })),
    ).toThrow(/faults\.crash .*flask-blocking cannot be crashed/);
    expect(() =>
      loadScenario(scenarioFile({ ...base, sweep: { factor: 'hashCost', values: [4, 8] } })),
    ).toThrow(/sweep: hashCost is a setting of the built-in API/);
    const narrowed = scenarioFile({
      ...base,
      sweep: {
        factor: 'smtpLatencyMs',
        values: [0, 100],
        requestsAt: { '200': [10], '100': [99] },
      },
    });
    expect(() => loadScenario(narrowed)).toThrow(/requestsAt: 200 is not among the values/);
    expect(() => loadScenario(narrowed)).toThrow(
      /requestsAt\.100: 99 not among the request counts/,
    );
    expect(() =>
      loadScenario(scenarioFile({ ...base, engine: 'jmeter', connection: 'keep-alive' })),
    ).toThrow(/engine jmeter: .*per-request/);
    expect(() => parseBenchArgs(['--aa-control', 'flask-thread'])).toThrow(/reference target/);
    expect(() => parseBenchArgs(['--variants', 'flask-forever'])).toThrow(
      /unknown variant "flask-forever".*flask-blocking/,
    );
    const o = parseBenchArgs([
      '--variants',
      'flask-thread',
      '--flask-workers',
      '4',
      '--flask-worker-class',
      'sync',
      '--password-hash',
      'werkzeug',
      '--engine',
      'jmeter',
    ]).overrides;
    expect(applyOverrides(loadScenario('seed-flask'), o)).toMatchObject({
      variants: ['flask-thread'],
      reference: { workers: 4, workerClass: 'sync', passwordHash: 'werkzeug', emailDelayMs: 0 },
      engine: 'jmeter',
    });
    expect(() => parseBenchArgs(['--flask-worker-class', 'eventlet'])).toThrow(
      /--flask-worker-class must be one of gevent, sync/,
    );
    expect(() => parseBenchArgs(['--password-hash', 'md5'])).toThrow(
      /--password-hash must be one of none, werkzeug/,
    );
  });

  it('leave the Flask targets out where the seed stack is missing, and refuse them by name', () => {
    const gone = () => ['flask', 'gevent'];
    const { variants, note } = withoutSeedStackWhenMissing(
      ['flask-blocking', 'express-inline', 'inline'],
      undefined,
      gone,
    );
    expect(variants).toEqual(['express-inline', 'inline']);
    expect(note).toMatch(
      /flask-blocking left out: flask, gevent are not installed there .*pnpm setup:seed/,
    );
    expect(() =>
      withoutSeedStackWhenMissing(['flask-thread', 'inline'], ['flask-thread'], gone),
    ).toThrow(/flask-thread needs Flask.*pnpm setup:seed/);
    let probed = false;
    withoutSeedStackWhenMissing(['inline', 'express-inline'], undefined, () => {
      probed = true;
      return [];
    });
    expect(probed).toBe(false);
  });
});

describe("JMeter's log read back into a cell", () => {
  it("names each thread's user as mailbench's accounting reads them", () => {
    const names = new SignupNames('abc123');
    const body = jmeterSignupBody(names);
    const i = '${__intSum(${__threadNum},-1)}';
    expect(JSON.parse(body)).toEqual({
      username: `mb_abc123_u${i}`,
      email: `u${i}.abc123@example.test`,
      password: expect.any(String),
    });
    expect(names.indexOf(`u7.abc123@example.test`)).toBe(7);
  });

  it("takes t0 from JMeter's start line and each sample's intended time from its thread", () => {
    const t0 = jmeterStartEpochMs(
      'Creating summariser <summary>\nStarting the test @ Sat Nov 28 11:00:00 UTC 2026 (1795863600123)\nWaiting for possible shutdown',
    );
    expect(t0).toBe(1795863600123);
    expect(jmeterStartEpochMs('no start line')).toBeNull();
    const csv = [
      'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,bytes,grpThreads,allThreads,Latency',
      `${t0! + 2},30,POST /api/users,201,Created,sign-ups 0: 4 over 2 s from 0 s 1-1,text,true,80,1,1,29`,
      `${t0! + 560},40,POST /api/users,201,Created,sign-ups 0: 4 over 2 s from 0 s 1-2,text,true,80,1,1,39`,
      `${t0! + 1001},5,POST /api/users,Non HTTP response code: java.net.ConnectException,Non HTTP response message: refused,sign-ups 0: 4 over 2 s from 0 s 1-3,text,false,0,1,1,0`,
    ].join('\n');
    const samples = samplesFromJtl(csv, t0!, 4, 2000);
    expect(samples.map((x) => x.intendedMs)).toEqual([0, 500, 1000, 1500]);
    expect(samples.map((x) => x.sentMs - x.intendedMs)).toEqual([2, 60, 1, 0]);
    expect(samples.map((x) => x.status)).toEqual([201, 201, 0, 0]);
    expect(samples[2]!.error).toMatch(/^Non_HTTP_response_code/);
    expect(samples[3]!.error).toBe('NOT_SENT');
    expect(samples[1]!.endMs - samples[1]!.sentMs).toBe(40);
  });
});

const seedMissing = seedStackMissing();
describe.skipIf(seedMissing.length > 0 && !REQUIRE)(
  'the reference targets, run by the CLI (pnpm setup:seed)',
  () => {
    it('every target starts per cell, stores its users, sends its e-mails through the sink, at each swept latency; each is probed', async () => {
      expect(seedMissing, 'the seed stack is missing: pnpm setup:seed').toEqual([]);
      const out = mkdtempSync(path.join(os.tmpdir(), 'mb-ref-out-'));
      const file = scenarioFile({
        description: 'reference targets under test',
        variants: [...REFERENCE_NAMES],
        requests: [20],
        durationSec: 2,
        warmup: { requests: 4, durationSec: 0.5 },
        timeoutSec: 10,
        reference: { workers: 2 },
        smtp: { latency: '0ms', greetingDelayMs: 0 },
        transport: {},
        sweep: { factor: 'smtpLatencyMs', values: [0, 300], requestsAt: { '300': [20] } },
        capacity: { enabled: true, connections: 4, durationSec: 1 },
        drainTimeoutSec: 20,
        // What starts and accounts is tested here, not timing: the suite runs three files at a time.
        behindThresholdMs: 500,
        stallThresholdMs: 2000,
      });
      const r = await bench(['--scenario', file, '--out', out, '--json']);
      expect(r.status, r.stderr.slice(-3000)).toBe(0);
      const dir = runDirIn(out);
      const run = readJson(path.join(dir, 'run.json'));
      expect(resultsValidator()(run), JSON.stringify(resultsValidator().errors)).toBe(true);
      expect(run.smtpSink.greetingDelayMs).toBe(0);
      expect(run.referenceStack).toMatchObject({
        flask: expect.any(String),
        gunicorn: expect.any(String),
        mongoengine: expect.any(String),
        'mongoose (express-inline)': expect.any(String),
      });
      expect(run.cells.length).toBe(8);
      for (const file of run.cells as string[]) {
        const cell = readJson(path.join(dir, file));
        const label = `${cell.label}: ${cell.error ?? ''} ${cell.serverStderrTail ?? ''}`;
        expect(cell.status, label).toBe('ok');
        expect(cell.statusCounts, label).toEqual({ 201: 20 });
        expect(cell.accounting.usersInDb, label).toBe(20);
        expect(cell.notChecked.join(' '), label).toMatch(
          /reference target has no mailbench \/metrics/,
        );
        if (cell.variant === 'flask-no-email') {
          expect(cell.emails.expected, label).toBe(0);
        } else {
          expect(cell.emails, label).toMatchObject({
            expected: 20,
            delivered: 20,
            lost: 0,
            duplicated: 0,
          });
        }
        // The blocking targets answer after the sink's reply, so its latency is in every reply.
        if (cell.factor.value === 300 && subjectFacts(cell.variant).repliesAfterSend)
          expect(cell.latencyMs.fromSend.min, label).toBeGreaterThanOrEqual(295);
      }
      expect(run.capacity.length).toBe(4);
      for (const file of run.capacity as string[]) {
        const probe = readJson(path.join(dir, file));
        expect(probe.status, `${probe.variant}: ${probe.error}`).toBe('ok');
        expect(probe.requestsPerSec).toBeGreaterThan(0);
      }
      // Nothing of the targets is left running.
      const left = spawnSync('pgrep', ['-f', `gunicorn .*${path.sep}flask-seed`], {
        encoding: 'utf8',
      });
      expect(left.stdout.trim()).toBe('');
    }, 300_000);
  },
);

const jmeter = findJMeter();
describe.skipIf(!jmeter && !REQUIRE)('--engine jmeter', () => {
  it('JMeter sends the cell: every thread a sign-up, read back with its intended time, every e-mail accounted', async () => {
    expect(jmeter, 'JMeter is not installed: pnpm setup:engines').not.toBeNull();
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-jm-out-'));
    const r = await bench([
      '--scenario',
      'smoke',
      '--variants',
      'inline',
      '--requests',
      '20',
      '--duration',
      '2s',
      '--engine',
      'jmeter',
      '--out',
      out,
    ]);
    // JMeter's threads may start late (its start-up): that is the cell judged invalid (exit 3),
    // said, not hidden.
    expect([0, 3], r.stderr.slice(-3000)).toContain(r.status);
    const dir = runDirIn(out);
    const run = readJson(path.join(dir, 'run.json'));
    expect(run.scenario.engine).toBe('jmeter');
    const cell = readJson(path.join(dir, run.cells[0]));
    expect(cell.status, cell.error).toBe('ok');
    if (!cell.valid)
      expect(cell.reasons.join(' ')).toMatch(/generator behind schedule|generator stalled/);
    expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toMatch(
      /Engine: JMeter sent every measured schedule/,
    );
    expect(cell.statusCounts).toEqual({ 201: 20 });
    expect(cell.samples.intendedMs.length).toBe(20);
    expect(cell.emails).toMatchObject({ expected: 20, delivered: 20, lost: 0 });
    expect(cell.accounting.usersInDb).toBe(20);
    const jtl = readFileSync(path.join(dir, run.cells[0].replace(/\.json$/, '.jtl')), 'utf8');
    expect(jtl.trim().split('\n').length).toBe(21);
  }, 240_000);
});
