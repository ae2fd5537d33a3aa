/**
 * The import graph of every package's src, read with the TypeScript compiler's pre-processor
 * (type-only
 * imports included: a circle of types is still a circle for a reader): no circle anywhere, and
 * the runner's phase folders importing only downwards, in the order of RUNNER_LAYERS.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourceFiles as filesUnder } from './helpers.ts';
import { REPO_ROOT } from '../src/shapes/paths.ts';

/**
 * The runner's folders from the top (what the user calls) to the bottom (what every phase
 * shares). A file may import from its own folder or from any folder below it; see
 * packages/runner/README.md for what each holds.
 */
const RUNNER_LAYERS = [
  'index.ts',
  'cli',
  'evidence',
  'run',
  'render',
  'search',
  'trial',
  'targets',
  'services',
  'export',
  'results',
  'summary',
  'judge',
  'config',
  'shapes',
] as const;

const PACKAGES = path.join(REPO_ROOT, 'packages');

/**
 * The files a workspace package's name (and sub-path) stands for, from its package.json exports.
 */
function workspaceEntries(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const pkg of readdirSync(PACKAGES)) {
    const manifest = JSON.parse(readFileSync(path.join(PACKAGES, pkg, 'package.json'), 'utf8'));
    for (const [sub, file] of Object.entries(manifest.exports as Record<string, string>)) {
      entries.set(path.posix.join(manifest.name, sub), path.join(PACKAGES, pkg, file));
    }
  }
  return entries;
}

/**
 * Every file's imports (static, type-only, re-exports and dynamic) that resolve to a file of the
 * set.
 */
export function importGraph(
  files: string[],
  entries = new Map<string, string>(),
): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles.map(({ fileName }) =>
      fileName.startsWith('.') ? path.resolve(path.dirname(file), fileName) : entries.get(fileName),
    );
    graph.set(file, [
      ...new Set(targets.filter((t): t is string => t !== undefined && known.has(t))),
    ]);
  }
  return graph;
}

/**
 * The circles of a graph: its strongly connected components of more than one file (or a file
 * importing itself).
 */
export function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The runner's imports that run upwards: a folder importing from a folder above it. */
export function upwardImports(graph: Map<string, string[]>, srcDir: string): string[] {
  const layerOf = (file: string) => {
    const top = path.relative(srcDir, file).split(path.sep)[0]!;
    const rank = RUNNER_LAYERS.indexOf(top as (typeof RUNNER_LAYERS)[number]);
    if (rank < 0) throw new Error(`${path.relative(srcDir, file)} is in no layer of RUNNER_LAYERS`);
    return rank;
  };
  const found: string[] = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith(srcDir + path.sep)) continue;
    for (const t of targets) {
      if (t.startsWith(srcDir + path.sep) && layerOf(t) < layerOf(file)) {
        found.push(`${path.relative(srcDir, file)} -> ${path.relative(srcDir, t)}`);
      }
    }
  }
  return found;
}

/** Whether a declaration is erased when compiled: `import type`, or every name in it a type. */
function typeOnly(s: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(s)) return s.isTypeOnly;
  const clause = s.importClause;
  if (!clause) return false; // import 'x': run for its effects
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return (
    !clause.name &&
    named !== undefined &&
    ts.isNamedImports(named) &&
    named.elements.length > 0 &&
    named.elements.every((e) => e.isTypeOnly)
  );
}

/**
 * The modules a file loads before it runs: its import and export declarations that survive
 * compilation (not import()).
 */
function staticSpecifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  return source.statements.flatMap((s) =>
    (ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) &&
    !typeOnly(s) &&
    s.moduleSpecifier &&
    ts.isStringLiteral(s.moduleSpecifier)
      ? [s.moduleSpecifier.text]
      : [],
  );
}

/** Every npm package a file loads at start, through the workspace's files it loads. */
export function loadedAtStart(entry: string, entries = new Map<string, string>()): Set<string> {
  const npm = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticSpecifiers(file)) {
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      else if (entries.has(spec)) visit(entries.get(spec)!);
      else if (!spec.startsWith('node:'))
        npm.add(
          spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
  };
  visit(entry);
  return npm;
}

const SRC_FILES = readdirSync(PACKAGES).flatMap((pkg) =>
  filesUnder(path.join(PACKAGES, pkg, 'src'), /\.(ts|mts|mjs)$/),
);
const RUNNER_SRC = path.join(PACKAGES, 'runner/src');

describe('import graph', () => {
  const graph = importGraph(SRC_FILES, workspaceEntries());
  const rel = (files: string[]) => files.map((f) => path.relative(PACKAGES, f));

  it('reads the imports, across packages too', () => {
    const arrows = [...graph.values()].reduce((n, t) => n + t.length, 0);
    expect(arrows).toBeGreaterThan(150);
    const cli = path.join(RUNNER_SRC, 'cli/bench-main.ts');
    expect(graph.get(cli)!.some((t) => t.startsWith(path.join(RUNNER_SRC, 'run')))).toBe(true);
    const contract = path.join(PACKAGES, 'target-api/src/contract/index.ts');
    expect([...graph.values()].some((t) => t.includes(contract))).toBe(true);
  });

  it('has no import circle in any packages/*/src', () => {
    expect(circles(graph).map(rel)).toEqual([]);
  });

  it('sees a circle, type-only imports included', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-circle-'));
    try {
      const a = path.join(dir, 'a.ts');
      const b = path.join(dir, 'b.ts');
      const c = path.join(dir, 'c.ts');
      writeFileSync(a, "import { b } from './b.ts';\nexport const a = b;\n");
      writeFileSync(b, "import type { C } from './c.ts';\nexport const b: C = 1;\n");
      writeFileSync(c, "export type { a } from './a.ts';\nexport type C = number;\n");
      expect(circles(importGraph([a, b, c]))).toEqual([[a, b, c]]);
      writeFileSync(c, 'export type C = number;\n');
      expect(circles(importGraph([a, b, c]))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads neither the charts nor the database driver for --help and usage errors', () => {
    const loaded = loadedAtStart(path.join(RUNNER_SRC, 'cli/bench-cli.ts'), workspaceEntries());
    expect(loaded.has('ajv')).toBe(true); // the scenarios are read, to list them
    expect(
      [...loaded].filter((p) => /^(vega|vega-lite|mongodb|undici|autocannon)$/.test(p)),
    ).toEqual([]);
    // What a run needs comes with it: run.ts loads them.
    const run = loadedAtStart(path.join(RUNNER_SRC, 'run/run.ts'), workspaceEntries());
    expect(['vega', 'mongodb'].filter((p) => run.has(p))).toEqual(['vega', 'mongodb']);
  });

  it(`keeps the runner's folders in their order, top to bottom: ${RUNNER_LAYERS.join(' > ')}`, () => {
    expect(upwardImports(graph, RUNNER_SRC)).toEqual([]);
    // The check sees an arrow that runs back up.
    const shapes = path.join(RUNNER_SRC, 'shapes/results.ts');
    const cli = path.join(RUNNER_SRC, 'cli/bench-cli.ts');
    expect(upwardImports(new Map([[shapes, [cli]]]), RUNNER_SRC)).toEqual([
      'shapes/results.ts -> cli/bench-cli.ts',
    ]);
  });
});
