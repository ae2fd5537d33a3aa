/**
 * The reference runs: results/reference.json names each run the documentation quotes (its
 * `pnpm bench` arguments, what the docs use it for, how long it takes here), and
 * results/reference-runs.json, written by `pnpm bench:reference`, which folder holds each one's
 * newest run and at which commit and measured-path state it was made.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../shapes/errors.ts';
import { REPO_ROOT } from '../shapes/paths.ts';

export interface ReferenceEntry {
  /** A short name the docs' markers and `pnpm bench:reference NAME` use. */
  name: string;
  /** The `pnpm bench` arguments, as a list (no shell). */
  args: string[];
  /** What the documentation uses it for. */
  for: string;
  /** Its expected duration on the machine the set was last made on, in minutes. */
  minutes: number;
  /** What it needs beyond `pnpm install`: 'flask' (pnpm setup:seed), 'jmeter' (pnpm setup:engines). */
  needs?: string[];
}

export interface ReferenceRun {
  runId: string;
  /** Its folder, relative to results/: `reference/<runId>` (runs before the set: `<runId>`). */
  dir: string;
  /** The arguments it was made with (the manifest's may have changed since). */
  args: string[];
  commit: string | null;
  /** The measured path's fingerprint when it was made (measuredPathHash). */
  measuredPath: string | null;
  cpuModel: string;
  finishedAt: string;
  minutes: number;
}

export interface ReferenceState {
  runs: Record<string, ReferenceRun>;
}

export const MANIFEST_FILE = path.join(REPO_ROOT, 'results', 'reference.json');
export const STATE_FILE = path.join(REPO_ROOT, 'results', 'reference-runs.json');
/** Where bench:reference writes its runs: committed, unlike the rest of results/. */
export const REFERENCE_DIR = path.join(REPO_ROOT, 'results', 'reference');

/** Whether a recorded run was made at today's measured path (`hash`: measuredPathHash()). */
export function isCurrent(made: ReferenceRun, hash: string | null): boolean {
  return made.measuredPath !== null && made.measuredPath === hash;
}

/** A recorded run's folder. */
export function runDirOf(made: ReferenceRun): string {
  return path.join(REPO_ROOT, 'results', made.dir);
}

function bad(file: string, why: string): UsageError {
  return new UsageError('ERR_REFERENCE_INVALID', `${file}: ${why}`);
}

/** The manifest, checked: unique names, arguments as strings, a positive duration. */
export function loadManifest(file = MANIFEST_FILE): ReferenceEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw bad(file, `cannot be read as JSON (${(err as Error).message})`);
  }
  const runs = (data as { runs?: unknown }).runs;
  if (!Array.isArray(runs) || runs.length === 0) throw bad(file, 'needs a non-empty "runs" list');
  const seen = new Set<string>();
  return runs.map((r: Partial<ReferenceEntry>, k) => {
    const where = `runs[${k}]`;
    if (typeof r.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(r.name))
      throw bad(file, `${where}.name must be lower-case letters, digits and dashes`);
    if (seen.has(r.name)) throw bad(file, `${where}.name "${r.name}" is used twice`);
    seen.add(r.name);
    if (!Array.isArray(r.args) || !r.args.every((a) => typeof a === 'string'))
      throw bad(file, `${where}.args must be a list of strings`);
    if (r.args.some((a) => a === '--out' || a.startsWith('--out=')))
      throw bad(file, `${where}.args: the set is written to results/; no --out`);
    if (typeof r.for !== 'string' || r.for.length === 0)
      throw bad(file, `${where}.for must say what the docs use it for`);
    if (typeof r.minutes !== 'number' || !(r.minutes > 0))
      throw bad(file, `${where}.minutes must be a positive number`);
    return { name: r.name, args: r.args, for: r.for, minutes: r.minutes, needs: r.needs ?? [] };
  });
}

export function loadState(file = STATE_FILE): ReferenceState {
  if (!existsSync(file)) return { runs: {} };
  return JSON.parse(readFileSync(file, 'utf8')) as ReferenceState;
}

/** The command a reader would type for an entry. */
export function commandOf(args: string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ['pnpm', 'bench', ...args.map(quote)].join(' ');
}
