/**
 * The harness tried as a hostile user would: a target that fails everything, two runs started
 * together, crafted run folders and scenario names, credentials in connection strings, a full
 * disk, and a runner killed with SIGKILL. Real runs in-process where a process adds nothing;
 * spawned CLIs where only a process can show it (an exit code, a SIGKILL).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findRedisServer } from '@mailbench/redis';
import { applyOverrides, parseBenchArgs } from '../src/cli/args.ts';
import { commentSafe, writeExport } from '../src/export/export.ts';
import { safeFileName } from '../src/results/files.ts';
import { Progress } from '../src/run/progress.ts';
import { runBench } from '../src/run/run.ts';
import { loadScenario } from '../src/config/scenario.ts';
import { endingSentence, verdictSentences } from '../src/summary/verdict.ts';
import { alive, bench as runCli, commandOf, descendants, readJson } from './helpers.ts';
import type { Scenario } from '../src/shapes/scenario.ts';
import { redactUri } from '../src/services/services.ts';
import { prepareRunDir } from '../src/results/run-dir.ts';
import { fileInRun, loadRun } from '../src/results/load.ts';
import { checkSemantics } from '../src/config/scenario-rules.ts';

const CLI = fileURLToPath(new URL('../src/cli/bench-cli.ts', import.meta.url));
const requireEngines = process.env.MAILBENCH_REQUIRE_ENGINES === '1';

/** The scenario the CLI would run for these flags. */
function scenarioFor(argv: string[]): Scenario {
  const args = parseBenchArgs(argv);
  const scenario = applyOverrides(loadScenario(args.scenario), args.overrides);
  checkSemantics(scenario, 'test');
  return scenario;
}

/** A run in this process, its progress lines discarded. */
function bench(scenario: Scenario, outDir: string) {
  const quiet = new Writable({
    write: (_chunk, _encoding, done) => done(),
  }) as unknown as NodeJS.WriteStream;
  return runBench({
    scenario,
    outDir,
    mongoEngine: 'standin',
    mongoUri: null,
    argv: [],
    signal: new AbortController().signal,
    progress: new Progress(quiet),
  });
}

/** Result files (cells, steps, capacity) on disk under a run folder. */
function resultFilesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json') && f.includes('/'))
    .sort();
}

describe('wrong results', () => {
  it('a target answering 503 to everything: said first, no latency to pass a threshold with, errors a threshold metric', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"unavailable"}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const scenario = scenarioFor([
        '--scenario',
        'smoke',
        '--target',
        url,
        '--requests',
        '20',
        '--duration',
        '1s',
        '--threshold',
        'p99<500ms',
        '--threshold',
        'errors<1%',
      ]);
      const outcome = await bench(scenario, mkdtempSync(path.join(os.tmpdir(), 'mb-503-')));
      const [cell] = outcome.summary.rows;
      expect(cell).toMatchObject({
        sent: 20,
        expectedResponses: 0,
        avgFromSendMs: null,
        p99Ms: null,
        errors: 20,
      });
      expect(verdictSentences(outcome.summary, outcome.run)[0]).toMatch(
        /^Not every request got the answer it was sent for \(external at 20 requests: 20 of 20\)/,
      );
      expect(outcome.summary.thresholds.map((t) => [t.expr, t.failed.length])).toEqual([
        ['p99<500ms', 1],
        ['errors<1%', 1],
      ]);
      expect(outcome.thresholdsFailed).toBe(true);
    } finally {
      server.close();
    }
  }, 60_000);
});

describe('lost or mixed data', () => {
  it('two runs started together: two folders, both complete', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-twice-'));
    const scenario = scenarioFor([
      '--scenario',
      'smoke',
      '--variants',
      'no-email',
      '--requests',
      '10',
      '--duration',
      '1s',
    ]);
    const [a, b] = await Promise.all([bench(scenario, out), bench(scenario, out)]);
    expect(a.runDir).not.toBe(b.runDir);
    expect(readdirSync(out)).toHaveLength(2);
    for (const outcome of [a, b]) {
      const run = readJson(path.join(outcome.runDir, 'run.json'));
      expect(run).toMatchObject({
        complete: true,
        runId: path.basename(outcome.runDir),
        cells: ['no-email/10.json'],
      });
      expect(readJson(path.join(outcome.runDir, 'no-email/10.json')).runId).toBe(run.runId);
    }
    // The same id asked for again: the next free one, never the existing folder.
    const again = prepareRunDir(out, path.basename(a.runDir));
    expect(again.runId).toMatch(/-[0-9]+$/);
  }, 120_000);

  it('a run whose runner is gone reads as killed, not in progress', () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const run = { endedAt: null, runner: { pid: dead, hostname: os.hostname() } } as never;
    expect(endingSentence(run)).toMatch(/never finished: its runner \(pid \d+\) is gone/);
    expect(
      endingSentence({
        endedAt: null,
        runner: { pid: process.pid, hostname: os.hostname() },
      } as never),
    ).toMatch(/still in progress/);
  });

  it.skipIf(process.getuid?.() !== 0 && !requireEngines)(
    'a full disk: a named error, exit 1, no temp file, run.json listing exactly the files there',
    async () => {
      const mount = mkdtempSync(path.join(os.tmpdir(), 'mb-full-'));
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', mount], {
        encoding: 'utf8',
      });
      expect(mounted.status, `mount a 200 KB tmpfs: ${mounted.stderr}`).toBe(0);
      try {
        const res = await runCli([
          '--scenario',
          'smoke',
          '--variants',
          'no-email,inline,background',
          '--mongo',
          'standin',
          '--out',
          mount,
        ]);
        expect(res.status, res.stderr).toBe(1);
        expect(res.stderr).toMatch(
          /ERR_RESULTS_WRITE: cannot write .*ENOSPC: no space left on device/,
        );
        expect(res.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
        expect(res.stdout).not.toContain('report.html');
        const [runId] = readdirSync(mount);
        const runDir = path.join(mount, runId as string);
        expect(
          readdirSync(runDir, { recursive: true, encoding: 'utf8' }).filter((f) =>
            f.includes('.tmp-'),
          ),
        ).toEqual([]);
        const run = readJson(path.join(runDir, 'run.json'));
        expect(resultFilesIn(runDir)).toEqual([...run.cells].sort());
      } finally {
        spawnSync('umount', [mount]);
      }
    },
    240_000,
  );

  it.skipIf(!findRedisServer() && !requireEngines)(
    'SIGKILL to the runner during a bullmq cell: nothing of the run alive 5 s later (and no loader in what is measured)',
    async () => {
      const out = mkdtempSync(path.join(os.tmpdir(), 'mb-sigkill-'));
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          CLI,
          '--scenario',
          'smoke',
          '--variants',
          'bullmq-worker',
          '--duration',
          '4s',
          '--mongo',
          'standin',
          '--out',
          out,
        ],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const deadline = Date.now() + 120_000;
      while (!/\[1\/1\] bullmq-worker 30 req \d+s: sent/.test(stderr) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toMatch(/\[1\/1\] bullmq-worker 30 req/);
      const tree = descendants(child.pid!);
      // redis-server's data folder: it works in it (--dir), and renames its command line.
      const redisDirs = tree
        .filter((pid) => commandOf(pid).includes('redis-server'))
        .map((pid) => readlinkSync(`/proc/${pid}/cwd`));
      expect(redisDirs).toHaveLength(1);
      // The stand-in, redis-server, the API and its worker process, the watchdog.
      expect(tree.length).toBeGreaterThanOrEqual(4);
      // What is measured runs as JavaScript: no TypeScript loader in the API or its worker process.
      const measured = tree.map(commandOf).filter((cmd) => /target-api|bullmq-worker/.test(cmd));
      expect(measured.length).toBeGreaterThanOrEqual(2);
      expect(measured.filter((cmd) => cmd.includes('tsx'))).toEqual([]);
      child.kill('SIGKILL');
      await once(child, 'exit');
      await new Promise((r) => setTimeout(r, 5000));
      expect(tree.filter(alive).map(commandOf)).toEqual([]);
      for (const dir of redisDirs) expect(existsSync(dir), dir).toBe(false);
    },
    180_000,
  );
});

describe('untrusted names', () => {
  it('a crafted run folder cannot make pnpm report read or write outside it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-crafted-'));
    expect(fileInRun(dir, 'inline/30.json')).toBe(path.join(dir, 'inline/30.json'));
    for (const bad of [
      '../../etc/passwd.json',
      '/etc/x.json',
      'inline/../../x.json',
      'a/.hidden.json',
      'x.txt',
      3,
    ]) {
      expect(() => fileInRun(dir, bad), String(bad)).toThrow(/outside its folder/);
    }
    expect(safeFileName('../../tmp/evil')).toBe('__.._tmp_evil');
    expect(safeFileName('20261205-120000-smoke')).toBe('20261205-120000-smoke');
    mkdirSync(path.join(dir, 'run'));
    const scenario = readJson(
      fileURLToPath(new URL('./fixtures/good-cell-scenario.json', import.meta.url)),
    );
    writeFileSync(
      path.join(dir, 'run', 'run.json'),
      JSON.stringify({ runId: 'crafted', scenario, cells: ['../../outside.json'], capacity: [] }),
    );
    expect(() => loadRun(path.join(dir, 'run'))).toThrow(/outside its folder/);
  });

  it('a scenario name with a line break puts nothing on a line of its own in an exported script', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-export-'));
    const scenario = {
      ...loadScenario('smoke'),
      name: 'x\nimport fs from "k6/fs"; fs.rm("/")\u2028evil',
    };
    const [written] = writeExport(scenario, 'k6', 'http://127.0.0.1:3000', out);
    expect(path.dirname(written!.file)).toBe(out);
    const text = readFileSync(written!.file, 'utf8');
    expect(text.split('\n').some((l) => l.startsWith('import fs'))).toBe(false);
    expect(text).not.toContain('\u2028');
    expect(commentSafe('a\r\nb\tc')).toBe('a  b c');
  });

  it('credentials are masked up to the last @, in any connection string', () => {
    expect(redactUri('mongodb://user:p@ss@h:27017/app')).toBe('mongodb://***@h:27017/app');
    expect(redactUri('--redis-url=redis://:s3cr@t@r:6379')).toBe('--redis-url=redis://***@r:6379');
    expect(redactUri('mongodb+srv://u:p@cluster.example/db?w=1')).toBe(
      'mongodb+srv://***@cluster.example/db?w=1',
    );
    expect(redactUri('http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000');
  });
});
