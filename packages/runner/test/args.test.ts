import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRANSPORTS, VARIANTS } from '@mailbench/target-api/contract';
import { applyOverrides, benchHelp, parseBenchArgs } from '../src/cli/args.ts';
import { BENCH_FLAGS } from '../src/config/flags.ts';
import type { BenchFlag } from '../src/config/flag-kinds.ts';
import { configurationLines } from '../src/summary/verdict.ts';
import { resolveOutDir } from '../src/cli/out-dir.ts';
import { applyQuick, listScenarios, loadScenario } from '../src/config/scenario.ts';
import { withoutRedisWhenMissing } from '../src/config/subjects.ts';
import { REPO_ROOT } from '../src/shapes/paths.ts';
import { REFERENCE_NAMES } from '../src/shapes/scenario.ts';
import { planCells, estimateCellSec } from '../src/run/plan.ts';
import type { RunInfo } from '../src/shapes/run.ts';
import { positiveInt } from '../src/config/flag-values.ts';
import { flagsHelp, measuredFlags, parseArgsOptions } from '../src/config/flag-help.ts';
import { checkSemantics } from '../src/config/scenario-rules.ts';

describe('pnpm bench flags', () => {
  it('has defaults', () => {
    const a = parseBenchArgs([]);
    expect(a).toMatchObject({
      help: false,
      scenario: 'default',
      out: null,
      mongoEngine: 'auto',
      mongoUri: null,
      quick: false,
      overrides: {},
    });
  });

  it('parses every flag (after the -- pnpm passes)', () => {
    const a = parseBenchArgs([
      '--',
      '--scenario',
      'delay-500ms',
      '--variants',
      'inline,outbox',
      '--requests',
      '750,800',
      '--duration',
      '30s',
      '--smtp-latency',
      'lognormal:200ms,2s',
      '--repeats',
      '3',
      '--hash-cost',
      '0',
      '--connection',
      'keep-alive',
      '--capacity',
      '--quick',
      '--out',
      'x',
      '--mongo',
      'standin',
      '--mongo-uri',
      'mongodb://h',
    ]);
    expect(a).toMatchObject({
      scenario: 'delay-500ms',
      out: 'x',
      mongoEngine: 'standin',
      mongoUri: 'mongodb://h',
      quick: true,
      overrides: {
        variants: ['inline', 'outbox'],
        requests: [750, 800],
        durationSec: 30,
        smtpLatency: { kind: 'lognormal', medianMs: 200, p99Ms: 2000 },
        repeats: 3,
        hashCost: 0,
        connection: 'keep-alive',
        capacity: true,
      },
    });
  });

  it('names the bad flag and the valid values', () => {
    expect(() => parseBenchArgs(['--variants', 'inline,carrier-pigeon'])).toThrow(
      /--variants: unknown variant "carrier-pigeon"; valid: no-email, inline, background, worker-pool, outbox/,
    );
    expect(() => parseBenchArgs(['--requests', '750,lots'])).toThrow(
      /--requests must be a whole number/,
    );
    expect(() => parseBenchArgs(['--duration', 'forever'])).toThrow(
      /--duration must be a positive duration/,
    );
    expect(() => parseBenchArgs(['--smtp-latency', 'pareto:1'])).toThrow(
      /unknown distribution "pareto"/,
    );
    expect(() => parseBenchArgs(['--smtp-latency', 'uniform:300ms-100ms'])).toThrow(
      /--smtp-latency\.maxMs.*must be >= minMs/,
    );
    expect(() => parseBenchArgs(['--repeats', '0'])).toThrow(
      /--repeats must be a whole number >= 1/,
    );
    expect(() => parseBenchArgs(['--mongo', 'postgres'])).toThrow(
      /--mongo must be one of auto, mongod, standin/,
    );
    expect(() => parseBenchArgs(['--hash-cost', '1'])).toThrow(
      /--hash-cost must be 0 \(off\) or 2-20/,
    );
    expect(() => parseBenchArgs(['--speed', 'fast'])).toThrow(/speed.*--help/);
    for (const bad of [['--variants', 'nope'], ['--colour']]) {
      expect(() => parseBenchArgs(bad)).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
    }
  });

  it('lets flags override the scenario', () => {
    const base = loadScenario('default');
    const s = applyOverrides(
      base,
      parseBenchArgs([
        '--variants',
        'inline',
        '--requests',
        '100',
        '--smtp-latency',
        '500ms',
        '--capacity',
      ]).overrides,
    );
    expect(s).toMatchObject({
      variants: ['inline'],
      requests: [100],
      smtp: { latency: { kind: 'fixed', ms: 500 } },
      capacity: { enabled: true },
    });
    expect(base.smtp.latency).toEqual({ kind: 'fixed', ms: 0 }); // the loaded scenario is not mutated
  });

  it('one table: a flag added to it is parsed, in --help, in the overrides and named by "overridden by"', () => {
    const frob: BenchFlag = {
      name: 'frob-level',
      value: 'N',
      group: 'load',
      measured: true,
      help: ['how hard to frob'],
      read: (t, o) => (o.repeats = positiveInt('--frob-level', t)),
    };
    const table = [...BENCH_FLAGS, frob];
    expect(parseArgsOptions(table)['frob-level']).toEqual({ type: 'string' });
    expect(flagsHelp(table)).toMatch(/^ {2}--frob-level N +how hard to frob$/m);
    expect(parseBenchArgs(['--frob-level', '4'], table).overrides).toEqual({ repeats: 4 });
    expect(() => parseBenchArgs(['--frob-level', '4'])).toThrow(/frob-level/); // not in the shipped table
    expect(
      measuredFlags(['--scenario', 'smoke', '--frob-level', '4', '--out', 'x'], table),
    ).toEqual(['--frob-level 4']);
    // Every flag of the table is in the real --help, and every measured one is named when given.
    const help = benchHelp([
      { name: 'smoke', description: 'a description long enough to be wrapped '.repeat(4) },
    ]);
    for (const f of BENCH_FLAGS) expect(help, f.name).toContain(`--${f.name}`);
    expect(Math.max(...help.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
  });

  it("a run says every flag that changed what it measured, the original's stack's included", () => {
    const argv = [
      '--scenario',
      'seed-flask',
      '--flask-workers',
      '1',
      '--password-hash',
      'werkzeug',
      '--agenda-process-every',
      '250,1000',
      '--out',
      '/tmp/x',
      '--mongo',
      'standin',
    ];
    expect(measuredFlags(argv)).toEqual([
      '--flask-workers 1',
      '--password-hash werkzeug',
      '--agenda-process-every 250,1000',
    ]);
    const run = {
      argv,
      scenario: loadScenario('seed-flask'),
      smtpSink: { latency: '0ms', host: '127.0.0.1' },
      database: { engine: 'standin', version: '7' },
    } as unknown as RunInfo;
    // From argv (a run recorded before the overrides were), and from run.json's record.
    for (const r of [
      run,
      { ...run, argv: [], overrides: { flags: measuredFlags(argv), values: {} } },
    ]) {
      expect(configurationLines(r)[0]).toBe(
        'Scenario `seed-flask`, overridden by `--flask-workers 1` `--password-hash werkzeug` `--agenda-process-every 250,1000`.',
      );
    }
  });

  it('asks for the unit of a bare duration, offering both readings', () => {
    expect(parseBenchArgs(['--duration', '10s']).overrides.durationSec).toBe(10);
    expect(parseBenchArgs(['--duration', '1500ms']).overrides.durationSec).toBe(1.5);
    for (const [flag, text] of [
      ['--duration', '10'],
      ['--slo-p99', '500'],
      ['--step', '20'],
      ['--smtp-latency', '10'],
    ] as const) {
      expect(() => parseBenchArgs([flag, text])).toThrow(
        `${flag} needs a unit: ${text}ms or ${text}s (got "${text}")`,
      );
    }
    expect(parseBenchArgs(['--smtp-latency', '0']).overrides.smtpLatency).toEqual({
      kind: 'fixed',
      ms: 0,
    });
  });

  it('--quick keeps the arrival rates and shortens the windows', () => {
    const q = applyQuick(loadScenario('default'));
    expect(q.durationSec).toBe(10);
    expect(q.requests).toEqual([125, 133, 142, 167]);
    expect(q.quick).toBe(true);
    expect(q.warmup.durationSec).toBeLessThanOrEqual(2);
  });

  it('resolves the results folder from where the user typed the command', () => {
    expect(resolveOutDir(null)).toBe(path.join(REPO_ROOT, 'results'));
    expect(resolveOutDir('out', { INIT_CWD: '/tmp/here' })).toBe('/tmp/here/out');
    expect(resolveOutDir('/abs', { INIT_CWD: '/tmp/here' })).toBe('/abs');
  });

  it('interleaves repeats: A B C A B C', () => {
    const s = {
      ...loadScenario('smoke'),
      variants: ['inline', 'outbox'] as const,
      requests: [10, 20],
      repeats: 2,
    };
    const order = planCells({ ...s, variants: [...s.variants] }).map(
      (c) => `${c.variant}:${c.requests}:${c.repeat}`,
    );
    expect(order).toEqual([
      'inline:10:1',
      'outbox:10:1',
      'inline:20:1',
      'outbox:20:1',
      'inline:10:2',
      'outbox:10:2',
      'inline:20:2',
      'outbox:20:2',
    ]);
    expect(estimateCellSec(loadScenario('default'), 'inline', 750)).toBeGreaterThanOrEqual(60);
  });
});

describe('scenarios', () => {
  it('every shipped scenario is valid', () => {
    const names = listScenarios();
    expect(names).toEqual(
      expect.arrayContaining(['default', 'delay-500ms', 'slow-provider', 'saturation', 'smoke']),
    );
    for (const name of names) expect(() => loadScenario(name)).not.toThrow();
    expect(loadScenario('default')).toMatchObject({
      requests: [750, 800, 850, 1000],
      durationSec: 60,
      hashCost: 14,
      variants: ['no-email', 'inline', 'background', 'worker-pool', 'outbox'],
    });
    expect(loadScenario('delay-500ms').smtp.latency).toEqual({ kind: 'fixed', ms: 500 });
  });

  it('lists the same variants (and the reference targets) and transports as the API contract', () => {
    const schema = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'packages/runner/schema/scenario.schema.json'), 'utf8'),
    );
    expect(schema.properties.variants.items.enum).toEqual([...VARIANTS, ...REFERENCE_NAMES]);
    expect(schema.properties.aaControl.oneOf[1].enum).toEqual(VARIANTS);
    expect(schema.properties.transport.properties.mode.enum).toEqual([...TRANSPORTS]);
  });

  it('reports invalid scenarios naming the field and the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-scenarios-'));
    const write = (name: string, data: unknown) =>
      writeFileSync(
        path.join(dir, `${name}.json`),
        typeof data === 'string' ? data : JSON.stringify(data),
      );
    const good = JSON.parse(
      JSON.stringify({
        variants: ['inline'],
        requests: [10],
        durationSec: 1,
        smtp: { latency: '0ms' },
        transport: {},
      }),
    );
    write('ok', good);
    expect(loadScenario('ok', dir).transport).toEqual({
      mode: 'pooled',
      maxConnections: 5,
      maxMessages: 100,
      sendTimeoutMs: 30000,
    });
    write('badvariant', { ...good, variants: ['inline', 'pigeon'] });
    expect(() => loadScenario('badvariant', dir)).toThrow(
      /badvariant\.json is invalid:[\s\S]*variants\.1: must be one of no-email, inline/,
    );
    write('typo', { ...good, smtp: { latencyy: '1s' } });
    expect(() => loadScenario('typo', dir)).toThrow(
      /typo\.json[\s\S]*smtp: unknown field "latencyy"/,
    );
    write('latency', { ...good, smtp: { latency: 'soon' } });
    expect(() => loadScenario('latency', dir)).toThrow(/latency\.json[\s\S]*smtp\.latency/);
    write('missing', { variants: ['inline'] });
    expect(() => loadScenario('missing', dir)).toThrow(/missing field "requests"/);
    write('broken', '{ "variants": [');
    expect(() => loadScenario('broken', dir)).toThrow(/broken\.json is not valid JSON/);
    expect(() => loadScenario('absent', dir)).toThrow(/no scenario "absent".*available: .*ok/);
    expect(() => loadScenario('no such name!', dir)).toThrow(/not valid/);
    // A path is read as a file, named after it; the recorded (parsed) latency form loads too.
    write('recorded', { ...good, smtp: { latency: { kind: 'uniform', minMs: 10, maxMs: 20 } } });
    expect(loadScenario(path.join(dir, 'recorded.json'))).toMatchObject({
      name: 'recorded',
      smtp: { latency: { kind: 'uniform', minMs: 10, maxMs: 20 } },
    });
    expect(() => loadScenario(path.join(dir, 'nowhere.json'))).toThrow(
      /no scenario .*nowhere\.json/,
    );
  });
});

describe('the variants that need Redis, where there is none', () => {
  const jobQueues = loadScenario('job-queues');
  it('a scenario that lists bullmq runs without it, saying so and how to add it', () => {
    const { variants, note } = withoutRedisWhenMissing(
      jobQueues.variants,
      undefined,
      false,
      'apt-get install -y redis-server',
    );
    expect(variants).toEqual(['background', 'outbox', 'agenda']);
    expect(note).toContain('bullmq, bullmq-worker left out');
    expect(note).toContain('apt-get install -y redis-server');
  });
  it('asking for bullmq by name is a usage error with the install command', () => {
    expect(() =>
      withoutRedisWhenMissing(
        ['bullmq', 'background'],
        ['bullmq', 'background'],
        false,
        'apt-get install -y redis-server',
      ),
    ).toThrow(/bullmq needs a Redis server.*apt-get install -y redis-server/);
  });
  it('with Redis, nothing changes', () => {
    expect(withoutRedisWhenMissing(jobQueues.variants, ['bullmq'], true, '')).toEqual({
      variants: jobQueues.variants,
      note: null,
    });
  });
  it('the job queues are not in the default matrix; job-queues has them', () => {
    expect(loadScenario('default').variants).not.toContain('agenda');
    expect(loadScenario('default').variants).not.toContain('bullmq');
    expect(jobQueues.variants).toEqual(expect.arrayContaining(['agenda', 'bullmq']));
  });
  it("sweeps Agenda's processEvery and the queues' concurrency by flag, labelled by value", () => {
    const a = parseBenchArgs([
      '--scenario',
      'job-queues',
      '--agenda-process-every',
      '1000,5000',
      '--variants',
      'agenda',
    ]);
    const s = applyOverrides(loadScenario('job-queues'), a.overrides);
    expect(s.sweep).toEqual({ factor: 'agendaProcessEveryMs', values: [1000, 5000] });
    expect(planCells(s).map((c) => c.label)).toEqual(
      expect.arrayContaining(['agenda.p1000', 'agenda.p5000']),
    );
    // What the CLI checks after the flags: a 5 s poll (Agenda's default) is a value to sweep.
    expect(() => checkSemantics(s, 'job-queues with the flags given')).not.toThrow();
    const b = applyOverrides(
      loadScenario('job-queues'),
      parseBenchArgs(['--queue-concurrency', '1,20']).overrides,
    );
    expect(b.sweep).toEqual({ factor: 'queueConcurrency', values: [1, 20] });
    expect(() => parseBenchArgs(['--queue-concurrency', '1,20', '--hash-cost', '0,14'])).toThrow(
      /one factor at a time/,
    );
  });
});
