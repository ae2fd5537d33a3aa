/**
 * The real CLI, end to end: the suite's smoke run (a process) with every file checked against
 * the JSON Schema and the accounting; flags, thresholds and pnpm report through the CLI's main
 * in-process; and interrupted runs (processes) that must leave no child behind and a result
 * marked incomplete.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listScenarios } from '../src/config/scenario.ts';
import {
  alive,
  bench,
  descendants,
  readJson,
  report,
  resultsValidator,
  runDirIn,
  smokeRun,
} from './helpers.ts';

const CLI = fileURLToPath(new URL('../src/cli/bench-cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('pnpm bench, end to end', () => {
  it('--help lists every flag; a bad flag exits 2 naming it', async () => {
    const help = await bench(['--help']);
    expect(help.status).toBe(0);
    for (const flag of [
      '--scenario',
      '--variants',
      '--requests',
      '--duration',
      '--smtp-latency',
      '--repeats',
      '--out',
      '--mongo',
      '--mongo-uri',
      '--capacity',
      '--quick',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    // Every scenario of scenarios/, each with its description.
    for (const name of listScenarios())
      expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    const bad = await bench(['--variants', 'inline,pigeon']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown variant "pigeon"');
    const unknown = await bench(['--scenario', 'nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('available:');
  });

  it('reports an unwritable output folder before any load', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'mb-unwritable-')), 'a-file');
    writeFileSync(file, '');
    const res = await bench(['--scenario', 'smoke', '--out', path.join(file, 'sub')]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('cannot write results');
    // Under /proc, where Node's recursive mkdir would spin without end.
    const proc = await bench(['--scenario', 'smoke', '--out', '/proc/mailbench-x/y']);
    expect(proc.status).toBe(2);
    expect(proc.stderr).toContain('cannot write results to /proc/mailbench-x');
  });

  const onPath = (name: string) =>
    (process.env.PATH ?? '').split(path.delimiter).some((d) => d && existsSync(path.join(d, name)));

  it('reaches the database and the target before any cell: failing that, exit 2 with one line and no results folder', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-startup-'));
    const started = Date.now();
    // Where there is no mongod (this project's machines), asking for one is a start-up error.
    if (!process.env.MONGODB_URI && !process.env.MONGOMS_SYSTEM_BINARY && !onPath('mongod')) {
      const noMongod = await bench(['--scenario', 'smoke', '--mongo', 'mongod', '--out', out]);
      expect(noMongod.status, noMongod.stderr).toBe(2);
      expect(noMongod.stderr).toMatch(/mailbench: No mongod could be started .*--mongo at auto/);
    }
    const nothing = await bench([
      '--scenario',
      'smoke',
      '--target',
      'http://127.0.0.1:1',
      '--out',
      out,
    ]);
    expect(nothing.status, nothing.stderr).toBe(2);
    expect(nothing.stderr).toContain(
      'mailbench: --target: the target http://127.0.0.1:1 does not answer HTTP',
    );
    expect(nothing.stderr).not.toMatch(/\[1\/\d+\]/); // no cell started
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(readdirSync(out)).toEqual([]);
  });

  it('runs the smoke scenario (a process): every file matches the schema and the accounting adds up', async () => {
    const res = await smokeRun();
    expect(res.stderr).toContain('estimated');
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^variant +req\/s +avg send ms/m);
    expect(Math.max(...res.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
    const { runDir } = res;
    const validate = resultsValidator();
    const check = (file: string) => {
      const data = readJson(path.join(runDir, file));
      const ok = validate(data);
      expect(ok, `${file}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
      return data;
    };
    const run = check('run.json');
    expect(run).toMatchObject({
      complete: true,
      interrupted: false,
      database: { engine: 'standin' },
    });
    expect(run.versions.fastify).toMatch(/^\d+\./);
    expect(run.versions.mongodb).toMatch(/^\d+\./);
    expect(run.cells).toHaveLength(5);
    for (const file of run.cells as string[]) {
      const cell = check(file);
      expect(cell.status).toBe('ok');
      expect(cell.valid, `${file}: ${cell.reasons}`).toBe(true);
      expect(cell.samples.endMs).toHaveLength(30);
      expect(cell.accounting.usersInDb).toBe(cell.accounting.responses2xx);
      expect(cell.statusCounts['201']).toBe(30);
      if (cell.variant === 'no-email') {
        expect(cell.emails.delivered).toBe(0);
      } else {
        expect(cell.emails).toMatchObject({ expected: 30, delivered: 30, lost: 0, duplicated: 0 });
      }
      expect(cell.server.series.length).toBeGreaterThanOrEqual(1);
      expect(cell.server.shutdown).not.toBeNull();
      // Each cell has its .jtl beside it, a row per request.
      const jtl = readFileSync(path.join(runDir, file.replace(/\.json$/, '.jtl')), 'utf8')
        .trimEnd()
        .split('\n');
      expect(jtl[0]).toMatch(/^timeStamp,elapsed,label,responseCode,/);
      expect(jtl).toHaveLength(31);
      expect(jtl[1]).toMatch(new RegExp(`^\\d{13},\\d+,${cell.label},201,OK,`));
      // Latency is the time to first byte: kept per request, never above the elapsed time.
      expect(cell.samples.headersMs).toHaveLength(30);
      for (const row of jtl.slice(1)) {
        const f = row.split(',');
        const latency = Number(f[14]);
        expect(latency).toBeLessThanOrEqual(Number(f[1]));
        expect(latency).toBeGreaterThanOrEqual(0);
      }
      expect(jtl.slice(1).some((row) => Number(row.split(',')[14]) > 0)).toBe(true);
    }
    const summary = check('summary.json');
    expect(summary.rows).toHaveLength(5);
    expect(summary.thresholds).toEqual([
      { expr: 'lost==0', cells: 5, worst: { file: expect.any(String), actual: 0 }, failed: [] },
    ]);
    const md = readFileSync(path.join(runDir, 'summary.md'), 'utf8');
    expect(md).toContain('## 30 requests over 2 s');
    // The measured value beside the threshold, as k6 prints it.
    expect(md).toMatch(
      /Threshold `lost==0` met by all 5 cells; nearest to failing: \S+\.json, lost = 0\./,
    );
  });

  it('a failed --threshold exits 99 after writing everything; --json parses; the verdict comes first', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-thresholds-'));
    const args = [
      '--scenario',
      'smoke',
      '--variants',
      'inline',
      '--threshold',
      'p99<1ms',
      '--threshold',
      'lost==0',
      '--json',
      '--junit',
      path.join(out, 'junit.xml'),
      '--mongo',
      'standin',
      '--out',
      out,
    ];
    const res = await bench(args);
    expect(res.status, res.stderr).toBe(99);
    // With --json the reason is still said, on stderr.
    expect(res.stderr).toContain('mailbench: exit 99: 1 threshold failed: p99<1ms (1 of 1 cells)');
    const summary = JSON.parse(res.stdout);
    expect(summary.thresholds).toEqual([
      {
        expr: 'p99<1ms',
        cells: 1,
        worst: null,
        failed: [{ file: 'inline/30.json', actual: expect.any(Number), note: null }],
      },
      { expr: 'lost==0', cells: 1, worst: { file: 'inline/30.json', actual: 0 }, failed: [] },
    ]);
    // JUnit XML as CI systems read it: a case per threshold and per cell, the failed one failing.
    const junit = readFileSync(path.join(out, 'junit.xml'), 'utf8');
    expect(XMLValidator.validate(junit)).toBe(true);
    const suites = new XMLParser({
      ignoreAttributes: false,
      isArray: (n) => n === 'testcase',
    }).parse(junit).testsuites;
    expect(suites['@_tests']).toBe('3');
    expect(suites['@_failures']).toBe('1');
    const cases = suites.testsuite.testcase as Array<Record<string, any>>;
    expect(cases.map((c) => c['@_name'])).toEqual([
      'threshold p99<1ms',
      'threshold lost==0',
      'cell inline/30.json',
    ]);
    expect(cases[0]!.failure['@_message']).toMatch(
      /^failed by 1 of 1 cells: inline\/30\.json \(p99 = [\d.]+ ms\)$/,
    );
    expect(cases[1]!.failure).toBeUndefined();
    rmSync(path.join(out, 'junit.xml'));
    const runDir = runDirIn(out);
    const md = readFileSync(path.join(runDir, 'summary.md'), 'utf8');
    expect(md.indexOf('## Verdict')).toBeLessThan(md.indexOf('## 30 requests'));
    expect(md).toMatch(
      /Threshold `p99<1ms` FAILED by 1 of 1 cells \(inline\/30\.json: p99 = [\d.]+ ms\)/,
    );
    expect(md).toContain(
      'overridden by `--variants inline` `--threshold p99<1ms` `--threshold lost==0`',
    );
    const html = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(html.indexOf('<section id="verdict">')).toBeGreaterThan(0);
    expect(html.indexOf('<section')).toBe(html.indexOf('<section id="verdict">')); // the first section
    expect(html).toContain('<code>--threshold p99&#60;1ms</code>');

    // pnpm report writes elsewhere, never into the run's folder, and the same run gives the same
    // bytes.
    const before = readFileSync(path.join(runDir, 'report.html'));
    const reports: string[] = [];
    for (const _ of [1, 2]) {
      const r = await report([runDir]);
      expect(r.status, r.stderr).toBe(0);
      reports.push(r.stdout.split('\n')[0] as string);
    }
    expect(reports[0]).not.toBe(reports[1]);
    for (const file of reports) expect(path.dirname(file).startsWith(os.tmpdir())).toBe(true);
    expect(readFileSync(reports[0] as string)).toEqual(readFileSync(reports[1] as string));
    // The run's own report and pnpm report's are the same page: one summary, rendered once each.
    expect(readFileSync(reports[0] as string)).toEqual(before);
    expect(readFileSync(path.join(runDir, 'report.html'))).toEqual(before);
    // --rejudge judges the stored cells again by today's rules: here the same verdict.
    const rejudged = await report([runDir, '--rejudge']);
    expect(rejudged.status, rejudged.stderr).toBe(0);
    expect(readFileSync(rejudged.stdout.split('\n')[0] as string)).toEqual(before);
  });

  it('Ctrl-C during a run stops every child process, writes partial results marked incomplete, exits 130', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-sigint-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, '--scenario', 'smoke', '--mongo', 'standin', '--out', out],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.resume();
    // Wait until the second cell is under way: a server, the stand-in and a loadgen thread exist.
    const deadline = Date.now() + 120_000;
    while (!/\[2\/5\] inline 30 req/.test(stderr) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/\[2\/5\] inline 30 req/);
    const children = descendants(child.pid!);
    expect(children.length).toBeGreaterThanOrEqual(2); // the stand-in and the API server
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) =>
      child.once('exit', (c) => resolve(c)),
    );
    expect(code).toBe(130);
    await new Promise((r) => setTimeout(r, 300));
    expect(children.filter(alive)).toEqual([]);
    const runDir = runDirIn(out);
    const run = readJson(path.join(runDir, 'run.json'));
    expect(run).toMatchObject({ complete: false, interrupted: true });
    expect(run.cells.length).toBeLessThan(5);
    expect(run.notRun).toHaveLength(5 - run.cells.length); // the cells it did not get to are named
    expect(readFileSync(path.join(runDir, 'summary.md'), 'utf8')).toContain('not run:');
    expect(existsSync(path.join(runDir, 'summary.md'))).toBe(true);
    expect(readFileSync(path.join(runDir, 'summary.md'), 'utf8')).toContain('INCOMPLETE');
    expect(readdirSync(runDir).some((f) => f.includes('.tmp-'))).toBe(false);
  }, 180_000);

  // What a user does: `pnpm bench` in a terminal, then Ctrl-C. The terminal signals its whole
  // foreground process group at once, so every process between pnpm and the runner gets the
  // SIGINT too; a wrapper that also relays it (tsx's CLI does) makes one Ctrl-C count as two,
  // and the runner's "second interrupt, exiting now" wrote no partial results. `script` gives the
  // command a real terminal; ETX (^C) written to it is the terminal's own interrupt character.
  it('Ctrl-C in a terminal on `pnpm bench` counts once: partial results marked interrupted', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-ctrlc-'));
    const command = `pnpm bench --scenario smoke --variants inline,background,outbox --mongo standin --out ${out}`;
    const term = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    term.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const deadline = Date.now() + 120_000;
    while (
      !/\[1\/3\] inline 30 req \d+s: sent/.test(output) &&
      Date.now() < deadline &&
      term.exitCode === null
    )
      await new Promise((r) => setTimeout(r, 100));
    expect(output).toMatch(/\[1\/3\] inline 30 req \d+s: sent/);
    term.stdin.write('\x03');
    const code = await new Promise<number | null>((resolve) =>
      term.once('exit', (c) => resolve(c)),
    );
    expect(output).not.toContain('second interrupt');
    expect(output).toContain('INCOMPLETE');
    expect(code).toBe(130);
    expect(readJson(path.join(runDirIn(out), 'run.json'))).toMatchObject({
      complete: false,
      interrupted: true,
    });
  }, 180_000);
});
