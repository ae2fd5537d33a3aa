/**
 * A committed run kept small: its per-request files (each cell's and step's JSON with the samples,
 * each cell's .jtl) gzip-compressed in place (`x.json` → `x.json.gz`), which results/load.ts reads
 * as they are; and its report.html and charts/*.svg, 1–2 MB of SVG markup a run, which `pnpm
 * report RUN` writes again from the run (the same bytes) and `pnpm run docs` copies from the .gz.
 * run.json, summary.json and summary.md stay as text: what a reader opens first.
 * Deterministic: the same file gives the same bytes.
 */
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { RunInfo } from '../shapes/run.ts';

/** The files under dir (recursively) whose names end with one of the suffixes. */
function filesEnding(dir: string, suffixes: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) out.push(...filesEnding(file, suffixes));
    else if (suffixes.some((s) => name.endsWith(s))) out.push(file);
  }
  return out;
}

/** Compresses a run folder's per-request files; returns the bytes before and after. */
export function compressRun(dir: string): { before: number; after: number; files: number } {
  const run = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunInfo;
  const named = [...run.cells, ...(run.steps ?? [])].map((f) => path.join(dir, f));
  let before = 0;
  let after = 0;
  let files = 0;
  for (const file of [...named, ...filesEnding(dir, ['.jtl', '.svg', 'report.html'])]) {
    let content: Buffer;
    try {
      content = readFileSync(file);
    } catch {
      continue; // already compressed
    }
    const packed = gzipSync(content, { level: 9 });
    writeFileSync(`${file}.gz`, packed);
    rmSync(file);
    before += content.length;
    after += packed.length;
    files++;
  }
  return { before, after, files };
}
