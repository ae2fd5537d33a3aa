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
import { Evidence, limitText } from '../src/evidence/blocks.ts';
import { compressRun } from '../src/evidence/compress.ts';
import { span, spanMs } from '../src/evidence/format.ts';
import { docPages, generateDocs, rewritePage } from '../src/evidence/docs.ts';
import { RUN_GENERATORS } from '../src/evidence/run-blocks.ts';
import { seedClaims } from '../src/evidence/seed-blocks.ts';
import { loadManifest, loadState } from '../src/evidence/manifest.ts';
import { listing, missingNeeds, selectEntries } from '../src/evidence/reference.ts';
import { type LoadedRun, loadRun } from '../src/results/load.ts';
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

describe('the generated sentences and tables', () => {
  const ev = new Evidence();
  const generate = (name: string, params: Record<string, string>) =>
    (RUN_GENERATORS[name] as (e: Evidence, p: Record<string, string>, page: string) => string)(
      ev,
      params,
      'docs/findings.md',
    );

  it("say of each fault run's mail what its reliability rows say, and nothing where they say 0", () => {
    const runs = ['crash', 'flaky-smtp', 'smtp-down'];
    const lines = generate('mail-fates', { runs: runs.join(',') }).split('\n');
    expect(lines).toHaveLength(runs.length);
    runs.forEach((name, i) => {
      const line = lines[i] as string;
      for (const r of ev.run(name).summary.reliability) {
        const said = (what: string) =>
          new RegExp(`${what}: [^;]*\`${r.label}\` (\\d+)`).exec(line)?.[1];
        expect(said('silently lost')).toBe(r.lost > 0 ? String(r.lost) : undefined);
        expect(said('reported failed')).toBe(r.failed > 0 ? String(r.failed) : undefined);
        expect(said('sent twice')).toBe(r.duplicated > 0 ? String(r.duplicated) : undefined);
      }
    });
  });

  it("print each label's average reply at each rate as its summary row has it, † where invalid", () => {
    const table = generate('matrix-table', { run: 'delay-500ms' });
    for (const r of ev.run('delay-500ms').summary.rows) {
      const row = table.split('\n').find((l) => l.startsWith(`| ${r.label} |`)) as string;
      expect(row, r.label).toBeDefined();
      expect(row).toContain(
        `${String(Math.round(r.avgFromSendMs ?? 0)).replace(/\B(?=(\d{3})+$)/, ' ')}`,
      );
      if (!r.valid) expect(row).toContain('†');
    }
  });

  it("turn the original's claims' verdicts where the figures cross their stated rules", () => {
    // The same runs with the seed matrix's blocking replies set by hand: within 50 ms of the
    // thread's, the first claim is reproduced; a second slower, it is not; the others stay.
    const withBlocking = (avg: (thread: number) => number) =>
      new (class extends Evidence {
        override run(name: string): LoadedRun {
          const run = super.run(name);
          if (name !== 'seed-flask') return run;
          const thread = Math.min(
            ...run.summary.rows
              .filter((r) => r.label === 'flask-thread.l0' && r.valid)
              .map((r) => r.avgFromSendMs ?? 0),
          );
          const rows = run.summary.rows.map((r) =>
            r.label === 'flask-blocking.l0' ? { ...r, avgFromSendMs: avg(thread) } : r,
          );
          return { ...run, summary: { ...run.summary, rows } };
        }
      })();
    const verdicts = (text: string) =>
      text
        .split('\n')
        .slice(2)
        .map((l) => /\*\*([a-z ,]+)\*\*/.exec(l.split(' | ').at(-1) ?? '')?.[1]);
    const close = verdicts(
      seedClaims(
        withBlocking((t) => t + 10),
        {},
      ),
    );
    const far = verdicts(
      seedClaims(
        withBlocking((t) => t + 1000),
        {},
      ),
    );
    expect(close[0]).toBe('reproduced');
    expect(far[0]).toBe('not reproduced');
    expect(far.slice(1)).toEqual(close.slice(1));
    expect(close.slice(1).every((v) => v !== undefined)).toBe(true);
  });

  it("print a limit its searches did not agree on as each search left it, not as one search's bound", () => {
    const e = ev.run('breaking-point-0ms').summary.breakingPoints?.[0];
    if (!e) throw new Error('the breaking-point-0ms run has no breaking points');
    const { searches: _searches, ...one } = e;
    const search = (lo: number, hi: number) => ({ ...one, httpBracket: { lo, hi } });
    const open = {
      ...e,
      httpMaxRatePerSec: null,
      httpNarrowed: false,
      httpBracket: { lo: 43.5, hi: 52 },
    };
    expect(limitText({ ...open, searches: [search(43.5, 52), search(37.6, 47.2)] }, 'http')).toBe(
      'not narrowed (43.5–52.0, 37.6–47.2)',
    );
    // One search with no passing step: only the bound it found.
    expect(limitText({ ...open, httpBracket: { lo: null, hi: 0.85 }, searches: [] }, 'http')).toBe(
      '< 0.9',
    );
    expect(
      limitText(
        { ...one, httpMaxRatePerSec: 47.9, httpNarrowed: true, httpRange: [45.2, 50.5] },
        'http',
      ),
    ).toBe('47.9 (45.2–50.5)');
  });

  it('print a range once: one value where both ends read the same, the unit where they share it', () => {
    expect(span([])).toBe('–');
    expect(span([52.5, 52.5])).toBe('52.5');
    expect(span([1.62, 2.41])).toBe('1.6–2.4');
    expect(span([32.2, 49.9], (n) => n.toFixed(0), ' ms')).toBe('32–50 ms');
    expect(spanMs([40, 57])).toBe('40–57 ms');
    expect(spanMs([1204, 1196])).toBe('1.20 s');
    expect(spanMs([1200, 3911])).toBe('1.20–3.91 s');
    expect(spanMs([812, 1200])).toBe('812 ms–1.20 s');
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
