/**
 * The README and docs/ as a newcomer meets them: every relative link leads to a file that exists
 * (and to a heading that exists, when it names one), no line outside a table or code block is
 * wider than 120 characters, and the README's first screen holds both commands, the 30-second run,
 * the contents and the answer.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/shapes/paths.ts';

const PAGES = [
  'README.md',
  ...readdirSync(path.join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'results/README.md',
];

/** GitHub's anchor of a heading. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string)));
}

/** The lines that are prose: not in a fenced block, not a table row. */
function proseLines(text: string): Array<{ n: number; line: string }> {
  let fenced = false;
  return text.split('\n').flatMap((line, k) => {
    if (line.startsWith('```')) fenced = !fenced;
    return fenced || line.startsWith('|') ? [] : [{ n: k + 1, line }];
  });
}

describe('the README and docs/', () => {
  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      const file = path.join(REPO_ROOT, page);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const url = m[1] as string;
        if (/^(https?:|mailto:)/.test(url)) continue;
        const [target = '', anchor] = url.split('#');
        const resolved = target === '' ? file : path.resolve(path.dirname(file), target);
        if (!existsSync(resolved)) broken.push(`${page}: ${url} (no such file)`);
        else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor))
          broken.push(`${page}: ${url} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('have no prose line wider than 120 characters', () => {
    const wide = PAGES.flatMap((page) =>
      proseLines(readFileSync(path.join(REPO_ROOT, page), 'utf8'))
        .filter((l) => l.line.length > 120)
        .map((l) => `${page}:${l.n} (${l.line.length})`),
    );
    expect(wide).toEqual([]);
  });

  it("put the two commands, the 30-second run, the contents and the answer in the README's first 60 lines", () => {
    const first = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
      .split('\n')
      .slice(0, 60)
      .join('\n');
    expect(first).toContain('pnpm install --frozen-lockfile && pnpm bench');
    expect(first).toContain('pnpm install --frozen-lockfile && pnpm test');
    expect(first).toContain('pnpm bench --scenario smoke');
    expect(first).toContain('## Contents');
    expect(first).toContain('## The answer');
    expect(first).toMatch(/^\| `inline` \|/m);
  });
});
