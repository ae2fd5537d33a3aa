/**
 * `pnpm run docs`: the documentation's generated blocks rewritten from the reference runs. A block is
 * the text between `<!-- generated: NAME key=value … -->` and `<!-- /generated -->` in README.md,
 * docs/*.md or results/README.md; NAME is one of the generators of blocks.ts or run-blocks.ts.
 * With `check`, nothing is written and every block (and copied chart) that differs from what would
 * be written is listed: the tests run that, so a number edited by hand, or a run re-made without
 * `pnpm run docs`, fails.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeText } from '../results/files.ts';
import { REPO_ROOT } from '../shapes/paths.ts';
import { Evidence, GENERATORS, type Params, wrap } from './blocks.ts';
import { RUN_GENERATORS } from './run-blocks.ts';

const OPEN = /<!-- generated: ([a-z-]+)((?: [a-z]+=(?:"[^"]*"|\S+))*) -->\n/g;
const CLOSE = '<!-- /generated -->';

/** The pages that may hold generated blocks, relative to the repository. */
export function docPages(): string[] {
  const docs = readdirSync(path.join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs, 'results/README.md'].filter((p) =>
    existsSync(path.join(REPO_ROOT, p)),
  );
}

function paramsOf(text: string): Params {
  const out: Params = {};
  for (const m of text.matchAll(/ ([a-z]+)=("[^"]*"|\S+)/g))
    out[m[1] as string] = (m[2] as string).replace(/^"(.*)"$/, '$1');
  return out;
}

export interface Difference {
  page: string;
  block: string;
  line: number;
}

/**
 * A page's text with every block regenerated, and the blocks that changed. A block without its
 * closing marker, or an unknown generator, is an error naming the page and line.
 */
export function rewritePage(
  text: string,
  page: string,
  ev: Evidence,
): { text: string; changed: Difference[] } {
  const changed: Difference[] = [];
  let out = '';
  let at = 0;
  for (const m of text.matchAll(OPEN)) {
    const start = (m.index as number) + m[0].length;
    if (start < at) continue;
    const line = text.slice(0, m.index).split('\n').length;
    const end = text.indexOf(CLOSE, start);
    if (end < 0) throw new Error(`${page}:${line}: a generated block with no ${CLOSE}`);
    const name = m[1] as string;
    const generate = GENERATORS[name] ?? RUN_GENERATORS[name];
    if (!generate) throw new Error(`${page}:${line}: no generator named "${name}"`);
    const wanted = `${wrap(generate(ev, paramsOf(m[2] ?? ''), page))}\n`;
    if (text.slice(start, end) !== wanted) changed.push({ page, block: name, line });
    out += text.slice(at, start) + wanted;
    at = end;
  }
  return { text: out + text.slice(at), changed };
}

/** Regenerates (or, with check, only compares) every page's blocks and copied charts. */
export function generateDocs(options: { check: boolean }): Difference[] {
  const ev = new Evidence();
  const changed: Difference[] = [];
  for (const page of docPages()) {
    const file = path.join(REPO_ROOT, page);
    const before = readFileSync(file, 'utf8');
    const { text, changed: here } = rewritePage(before, page, ev);
    changed.push(...here);
    if (!options.check && text !== before) writeText(file, text);
  }
  for (const { from, to } of ev.copies) {
    const raw = readFileSync(from);
    const content = from.endsWith('.gz') ? gunzipSync(raw) : raw;
    if (existsSync(to) && readFileSync(to).equals(content)) continue;
    changed.push({ page: path.relative(REPO_ROOT, to), block: 'chart', line: 0 });
    if (!options.check) writeText(to, content.toString('utf8'));
  }
  return changed;
}
