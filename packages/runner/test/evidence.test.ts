/**
 * The evidence: the reference runs and the documentation generated from them. Every generated
 * block of the README, docs/ and results/README.md matches what `pnpm docs` would write from the
 * committed runs (and a number edited by hand is caught); each reference run names a clean commit;
 * the manifest is checked; a run compressed as the set keeps it reads back the same.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Evidence } from '../src/evidence/blocks.ts';
import { compressRun } from '../src/evidence/compress.ts';
import { docPages, generateDocs, rewritePage } from '../src/evidence/docs.ts';
import { loadManifest, loadState } from '../src/evidence/manifest.ts';
import { listing, missingNeeds, selectEntries } from '../src/evidence/reference.ts';
import { loadRun } from '../src/results/load.ts';
import { REPO_ROOT } from '../src/shapes/paths.ts';
import { smokeRun } from './helpers.ts';

describe('the generated documentation', () => {
  it('matches what pnpm docs writes from the committed reference runs', () => {
    expect(generateDocs({ check: true })).toEqual([]);
  });

  it('catches a number edited by hand in a generated block', () => {
    const page = 'README.md';
    const text = readFileSync(path.join(REPO_ROOT, page), 'utf8');
    const start = text.indexOf('<!-- generated: limits-table');
    expect(start).toBeGreaterThanOrEqual(0);
    // The first figure of the table's first row, one higher.
    const row = text.indexOf('\n| `', start);
    const at = row + text.slice(row).search(/\d/);
    const edited = `${text.slice(0, at)}${(Number(text[at]) + 1) % 10}${text.slice(at + 1)}`;
    const { changed } = rewritePage(edited, page, new Evidence());
    expect(changed.map((c) => c.block)).toEqual(['limits-table']);
  });

  it('has its blocks in the pages, and rejects an unknown generator or an unclosed block', () => {
    const blocks = docPages().flatMap((p) =>
      [...readFileSync(path.join(REPO_ROOT, p), 'utf8').matchAll(/<!-- generated: ([a-z-]+)/g)].map(
        (m) => m[1],
      ),
    );
    expect(blocks).toEqual(
      expect.arrayContaining([
        'limits-source',
        'limits-table',
        'limits-findings',
        'chart',
        'results-index',
      ]),
    );
    const ev = new Evidence();
    expect(() =>
      rewritePage('<!-- generated: no-such -->\n<!-- /generated -->\n', 'x.md', ev),
    ).toThrow(/x.md:1: no generator named "no-such"/);
    expect(() => rewritePage('a\n<!-- generated: limits-table -->\nb\n', 'x.md', ev)).toThrow(
      /x.md:2: a generated block with no/,
    );
  });
});

describe('the reference runs', () => {
  it('each names a clean commit, the one results/reference-runs.json records', () => {
    const state = loadState();
    const names = loadManifest().map((e) => e.name);
    expect(Object.keys(state.runs).sort()).toEqual([...names].sort());
    for (const [name, made] of Object.entries(state.runs)) {
      const run = JSON.parse(
        readFileSync(path.join(REPO_ROOT, 'results', made.dir, 'run.json'), 'utf8'),
      );
      expect(run.git.dirty, name).toBe(false);
      expect(run.git.commit, name).toBe(made.commit);
      // bench:reference adds where the run goes.
      const argv = run.argv as string[];
      const out = argv.indexOf('--out');
      expect(out < 0 ? argv : argv.slice(0, out), name).toEqual(made.args);
    }
  });

  it('are listed with their total duration; an unknown name is a usage error', () => {
    const all = loadManifest();
    const lines = listing(all, loadState(), null);
    const total = all.reduce((a, e) => a + e.minutes, 0);
    expect(lines.at(-1)).toMatch(new RegExp(`^${all.length} runs, about `));
    expect(total).toBeGreaterThan(0);
    expect(lines.join('\n')).toContain('pnpm bench --scenario breaking-point --quick');
    expect(selectEntries(all, ['crash']).map((e) => e.name)).toEqual(['crash']);
    expect(() => selectEntries(all, ['crash', 'nope'])).toThrow(/no reference run named nope/);
    // Needs are checked before the first run; one the tool does not know is reported as such.
    const odd = { name: 'x', args: [], for: 'x', minutes: 1, needs: ['gpu'] };
    expect(missingNeeds([odd])).toEqual(['"gpu" (not a need this tool knows)']);
    // Where CI installs Flask's stack and JMeter (MAILBENCH_REQUIRE_ENGINES), nothing is missing.
    if (process.env.MAILBENCH_REQUIRE_ENGINES) expect(missingNeeds(all)).toEqual([]);
  });

  it('are kept in git: results/reference/ and the runs made before it', () => {
    const ignore = readFileSync(path.join(REPO_ROOT, '.gitignore'), 'utf8').split('\n');
    expect(ignore).toEqual(
      expect.arrayContaining([
        '!results/reference/',
        '!results/reference.json',
        '!results/reference-runs.json',
      ]),
    );
    for (const made of Object.values(loadState().runs))
      if (!made.dir.startsWith('reference/')) expect(ignore).toContain(`!results/${made.dir}/`);
  });

  it('refuses a manifest that is not one', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-manifest-'));
    try {
      const file = path.join(dir, 'reference.json');
      const bad = (runs: unknown) => {
        writeFileSync(file, JSON.stringify({ runs }));
        return () => loadManifest(file);
      };
      const ok = { name: 'a', args: ['--quick'], for: 'x', minutes: 1 };
      expect(bad([ok, ok])).toThrow(/"a" is used twice/);
      expect(bad([{ ...ok, args: '--quick' }])).toThrow(/args must be a list of strings/);
      expect(bad([{ ...ok, args: ['--out', '/tmp'] }])).toThrow(/no --out/);
      expect(bad([{ ...ok, minutes: 0 }])).toThrow(/minutes must be a positive number/);
      expect(bad([])).toThrow(/non-empty "runs"/);
      expect(bad([ok])()).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compressed, a run reads back the same and is smaller', async () => {
    const run = await smokeRun();
    expect(run.status, run.stderr).toBe(0);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-compress-'));
    try {
      const copy = path.join(dir, path.basename(run.runDir));
      cpSync(run.runDir, copy, { recursive: true });
      const before = loadRun(copy);
      const size = compressRun(copy);
      expect(size.files).toBeGreaterThan(0);
      expect(size.after).toBeLessThan(size.before / 3);
      const label = before.cells[0]?.file.split('/')[0] as string;
      expect(readdirSync(path.join(copy, label)).every((f) => f.endsWith('.gz'))).toBe(true);
      expect(readdirSync(path.join(copy, 'charts')).every((f) => f.endsWith('.svg.gz'))).toBe(true);
      expect(readdirSync(copy)).toEqual(
        expect.arrayContaining(['run.json', 'summary.json', 'summary.md', 'report.html.gz']),
      );
      const after = loadRun(copy);
      expect(after.cells).toEqual(before.cells);
      expect(after.summary).toEqual(before.summary);
      expect(compressRun(copy).files).toBe(0); // a second pass finds nothing left to compress
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
