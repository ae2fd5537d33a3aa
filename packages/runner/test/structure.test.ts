/**
 * The shape of the code, checked: short functions, one place for each variant, and the runner
 * knowing the API only through its contract. Read with the TypeScript compiler's parser.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './helpers.ts';
import { REPO_ROOT } from '../src/shapes/paths.ts';

const MAX_FUNCTION_LINES = 100;

const PACKAGES = path.join(REPO_ROOT, 'packages');
const SRC_FILES = readdirSync(PACKAGES).flatMap((pkg) =>
  sourceFiles(path.join(PACKAGES, pkg, 'src')),
);

function longFunctions(file: string, maxLines: number): string[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = node.name?.getText(source) ?? '(anonymous)';
      if (last - first + 1 > maxLines)
        found.push(
          `${path.relative(REPO_ROOT, file)}:${first + 1} ${name} (${last - first + 1} lines)`,
        );
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('code structure', () => {
  it('finds the source files', () => {
    expect(SRC_FILES.length).toBeGreaterThan(30);
  });

  it(`has no function in packages/*/src longer than ${MAX_FUNCTION_LINES} lines`, () => {
    expect(SRC_FILES.flatMap((f) => longFunctions(f, MAX_FUNCTION_LINES))).toEqual([]);
    // The check itself sees long functions: this file's fixture has one.
    const fixture = path.join(REPO_ROOT, 'packages/runner/test/structure.test.ts');
    expect(longFunctions(fixture, 5).length).toBeGreaterThan(0);
  });

  it('keeps every runner file under 400 lines, each opening with a comment that says what it is', () => {
    const runnerFiles = sourceFiles(path.join(PACKAGES, 'runner/src'));
    expect(runnerFiles.length).toBeGreaterThan(40);
    const lines = (f: string) => readFileSync(f, 'utf8').split('\n').length;
    expect(
      runnerFiles.filter((f) => lines(f) > 400).map((f) => path.relative(REPO_ROOT, f)),
    ).toEqual([]);
    expect(
      runnerFiles
        .filter((f) => !/^(\/\*\*|\/\/)/.test(readFileSync(f, 'utf8')))
        .map((f) => path.relative(REPO_ROOT, f)),
    ).toEqual([]);
  });

  it('names a variant in quotes in at most three source files (registry, strategies, presentation)', () => {
    const files = SRC_FILES.filter((f) => /['"]worker-pool['"]/.test(readFileSync(f, 'utf8'))).map(
      (f) => path.relative(REPO_ROOT, f),
    );
    expect(files.length, files.join(', ')).toBeLessThanOrEqual(3);
  });

  it('lets the runner import the API only through its contract', () => {
    const runnerFiles = sourceFiles(path.join(PACKAGES, 'runner/src'));
    const imports = runnerFiles.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/from '(@mailbench\/target-api[^']*)'/g)].map(
        (m) => m[1],
      ),
    );
    expect(imports.length).toBeGreaterThan(0);
    expect([...new Set(imports)]).toEqual(['@mailbench/target-api/contract']);
  });

  it('keeps the contract free of server code', () => {
    const contract = sourceFiles(path.join(PACKAGES, 'target-api/src/contract'));
    const imports = contract.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1] ?? ''),
    );
    expect(imports.filter((i) => !i.startsWith('./') && !i.startsWith('node:'))).toEqual([]);
  });
});
