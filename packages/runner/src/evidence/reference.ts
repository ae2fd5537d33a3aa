/**
 * `pnpm bench:reference`: the reference runs re-made, one after another, from a clean tree. Each
 * run is `pnpm bench` with its manifest arguments, written to results/; once it finished, its
 * per-request files are compressed, the name's previous run is removed, and
 * results/reference-runs.json records the new one (so an interrupted set resumes where it stopped:
 * a name already made at today's measured path is skipped unless --again).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeText } from '../results/files.ts';
import { UsageError } from '../shapes/errors.ts';
import { REPO_ROOT } from '../shapes/paths.ts';
import { seedStackMissing } from '../config/references.ts';
import { findJMeter } from '../services/engines.ts';
import { gitInfo } from '../services/environment.ts';
import { compressRun } from './compress.ts';
import { measuredPathHash } from './fingerprint.ts';
import {
  commandOf,
  isCurrent,
  loadManifest,
  loadState,
  REFERENCE_DIR,
  runDirOf,
  type ReferenceEntry,
  type ReferenceState,
  STATE_FILE,
} from './manifest.ts';

export interface ReferenceIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface ReferenceOptions {
  names: string[];
  list: boolean;
  again: boolean;
}

const BENCH_CLI = path.join(REPO_ROOT, 'packages/runner/src/cli/bench-cli.ts');

/** The entries asked for (all when none is named); an unknown name is a usage error. */
export function selectEntries(all: ReferenceEntry[], names: string[]): ReferenceEntry[] {
  const known = new Set(all.map((e) => e.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0)
    throw new UsageError(
      'ERR_REFERENCE_UNKNOWN',
      `no reference run named ${unknown.join(', ')}; the set: ${[...known].join(', ')}`,
    );
  return names.length === 0 ? all : all.filter((e) => names.includes(e.name));
}

function minutes(n: number): string {
  return n >= 60 ? `${Math.floor(n / 60)} h ${Math.round(n % 60)} min` : `${Math.round(n)} min`;
}

/** The set as a table: name, duration, needs, command, what it is for; and the total. */
export function listing(entries: ReferenceEntry[], state: ReferenceState, hash: string | null) {
  const lines: string[] = [];
  for (const e of entries) {
    const made = state.runs[e.name];
    const status = !made
      ? 'not made'
      : isCurrent(made, hash)
        ? `made (${made.runId})`
        : `older than the code (${made.runId})`;
    lines.push(
      `${e.name}  ~${minutes(e.minutes)}${e.needs?.length ? `  needs ${e.needs.join(', ')}` : ''}  ${status}`,
    );
    lines.push(`  ${commandOf(e.args)}`);
    lines.push(`  for: ${e.for}`);
  }
  const total = entries.reduce((a, e) => a + e.minutes, 0);
  lines.push(
    `${entries.length} runs, about ${minutes(total)} in all where the durations were measured (see reference.json); this machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores`,
  );
  return lines;
}

function runFolders(): Set<string> {
  if (!existsSync(REFERENCE_DIR)) return new Set();
  return new Set(
    readdirSync(REFERENCE_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
  );
}

/** One `pnpm bench` as a child process sharing the terminal; its exit code (a signal: 128 + n). */
function bench(args: string[]): Promise<number> {
  // Ctrl-C reaches the child too (one process group): it stops its run and cleans up, and its
  // exit code stops the set; this process waits for it rather than dying first.
  const wait = () => {};
  process.on('SIGINT', wait);
  return new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BENCH_CLI, ...args], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 1) : 1)),
    );
  }).finally(() => process.off('SIGINT', wait));
}

function saveState(state: ReferenceState): void {
  const sorted = Object.fromEntries(
    Object.entries(state.runs).sort(([a], [b]) => a.localeCompare(b)),
  );
  writeText(STATE_FILE, `${JSON.stringify({ runs: sorted }, null, 2)}\n`);
}

/**
 * What the entries need that this machine lacks, checked before the first run (a set of two
 * hours should not stop at its ninth run for a missing Flask).
 */
export function missingNeeds(entries: ReferenceEntry[]): string[] {
  const needs = new Set(entries.flatMap((e) => e.needs ?? []));
  const missing: string[] = [];
  if (needs.has('flask')) {
    const lack = seedStackMissing();
    if (lack.length > 0) missing.push(`Flask's stack (${lack.join(', ')}): pnpm setup:seed`);
  }
  if (needs.has('jmeter') && findJMeter() === null) missing.push('JMeter: pnpm setup:engines');
  for (const n of needs)
    if (n !== 'flask' && n !== 'jmeter') missing.push(`"${n}" (not a need this tool knows)`);
  return missing;
}

/** Runs the set (or lists it); the process's exit code. */
export async function runReferenceSet(options: ReferenceOptions, io: ReferenceIo): Promise<number> {
  const entries = selectEntries(loadManifest(), options.names);
  const state = loadState();
  const hash = measuredPathHash();
  if (options.list) {
    for (const line of listing(entries, state, hash)) io.out(line);
    return 0;
  }
  const git = gitInfo();
  if (git.dirty !== false || hash === null)
    throw new UsageError(
      'ERR_REFERENCE_DIRTY',
      git.dirty === null
        ? 'the reference runs must name a commit: run them in a git clone'
        : 'the tree has changes outside results/: commit or stash them first (a reference run must name a clean commit)',
    );
  const missing = missingNeeds(entries);
  if (missing.length > 0)
    throw new UsageError(
      'ERR_REFERENCE_NEEDS',
      `the set needs ${missing.join('; ')} (or name only the runs that need nothing more)`,
    );
  const todo = entries.filter((e) => {
    const made = state.runs[e.name];
    const current =
      made &&
      isCurrent(made, hash) &&
      JSON.stringify(made.args) === JSON.stringify(e.args) &&
      existsSync(runDirOf(made));
    if (current && !options.again)
      io.err(
        `${e.name}: already made at today's measured path (${made.runId}); --again makes it anew`,
      );
    return !current || options.again;
  });
  let pace = 1; // measured minutes per expected minute so far
  for (const [k, e] of todo.entries()) {
    const left = todo.slice(k).reduce((a, x) => a + x.minutes, 0) * pace;
    const eta = new Date(Date.now() + left * 60_000).toTimeString().slice(0, 5);
    io.err(`\n[${k + 1}/${todo.length}] ${e.name}: ${commandOf(e.args)}`);
    io.err(
      `  about ${minutes(e.minutes * pace)}; the set: ${minutes(left)} left, done about ${eta}`,
    );
    const before = runFolders();
    const started = Date.now();
    const code = await bench([...e.args, '--out', REFERENCE_DIR]);
    const made = [...runFolders()].filter((d) => !before.has(d));
    // 0: every cell valid; 3: some cell invalid (a finding the docs report, e.g. JMeter's late threads).
    if ((code !== 0 && code !== 3) || made.length !== 1) {
      io.err(
        `${e.name}: pnpm bench exited ${code}${made.length !== 1 ? ` and made ${made.length} run folders` : ''}; the set stops here (the runs made so far are recorded; run it again to resume)`,
      );
      return code === 0 ? 1 : code;
    }
    const runId = made[0] as string;
    const took = (Date.now() - started) / 60_000;
    pace = (pace * k + took / e.minutes) / (k + 1);
    const size = compressRun(path.join(REFERENCE_DIR, runId));
    const old = state.runs[e.name];
    const previous = old && old.runId !== runId ? old : undefined;
    if (previous) rmSync(runDirOf(previous), { recursive: true, force: true });
    state.runs[e.name] = {
      runId,
      dir: path.relative(path.join(REPO_ROOT, 'results'), path.join(REFERENCE_DIR, runId)),
      args: e.args,
      commit: git.commit,
      measuredPath: hash,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      finishedAt: new Date().toISOString(),
      minutes: Math.round(took * 10) / 10,
    };
    saveState(state);
    io.err(
      `${e.name}: ${runId} in ${minutes(took)}; samples ${(size.before / 1e6).toFixed(1)} MB → ${(size.after / 1e6).toFixed(1)} MB compressed${previous ? `; ${previous.dir} removed` : ''}`,
    );
  }
  io.err(
    `\nThe set is made. Next: pnpm run docs (the generated figures), then commit results/, README.md and docs/.`,
  );
  return 0;
}
