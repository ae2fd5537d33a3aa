/**
 * The measured path's fingerprint: one hash over every tracked file that decides what a run
 * measures (the packages' sources, the scenarios, the reference targets), from the files on disk
 * or from a commit. A reference run records it; a run whose fingerprint differs from today's is
 * older than the code (stale). Content hashes, not `git diff`: a shallow clone can tell too.
 * The documentation generator (this folder) is not on the measured path.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../shapes/paths.ts';

/** The measured path: each package's src/ folder, scenarios/ and targets/. */
const MEASURED = /^(packages\/[^/]+\/src|scenarios|targets)\//;
const NOT_MEASURED = ['packages/runner/src/evidence/'];

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: 'pipe' });
}

function digest(entries: Array<[string, string]>): string {
  const lines = entries
    .filter(([file]) => MEASURED.test(file))
    .filter(([file]) => !NOT_MEASURED.some((prefix) => file.startsWith(prefix)))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([file, blob]) => `${blob} ${file}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex').slice(0, 16);
}

/** Git's blob id of a file's content (what `git hash-object` prints). */
function blobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** The fingerprint of the tracked files as they are on disk; null without git. */
export function measuredPathHash(): string | null {
  try {
    const files = git(['ls-files', '-z'])
      .split('\0')
      .filter((f) => MEASURED.test(f));
    return digest(files.map((f) => [f, blobId(readFileSync(path.join(REPO_ROOT, f)))]));
  } catch {
    return null;
  }
}

/** The fingerprint at a commit; null when this clone does not have it. */
export function measuredPathHashAt(commit: string): string | null {
  try {
    const listing = git(['ls-tree', '-r', '-z', commit]);
    const entries = listing
      .split('\0')
      .filter(Boolean)
      .map((line): [string, string] => {
        const [meta, file] = line.split('\t') as [string, string];
        return [file, meta.split(' ')[2] as string];
      });
    return digest(entries);
  } catch {
    return null;
  }
}
