/**
 * What several runner tests share: reading result files, the results schema, and the API started by
 * hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

const SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL('../schema/results.schema.json', import.meta.url)), 'utf8'),
);
const API = fileURLToPath(new URL('../../target-api/src/server.ts', import.meta.url));

export function readJson(file: string): Record<string, any> {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The files under a folder (recursively) whose names match, e.g. every package's sources. */
export function sourceFiles(dir: string, names = /\.ts$/): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full, names);
    return names.test(entry.name) ? [full] : [];
  });
}

/** The one run folder a test's --out holds. */
export function runDirIn(out: string): string {
  const runs = readdirSync(out);
  expect(runs.length).toBe(1);
  return path.join(out, runs[0] as string);
}

/** A validator for every result file (run, cell, capacity, step, summary). */
export function resultsValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv.compile(SCHEMA);
}

/**
 * The built-in API as a process of the test's own, as a user would start it: the harness does not
 * know it.
 */
export async function startApiByHand(
  args: string[],
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', API, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the API did not start: ${out}`)), 20_000);
    const read = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => reject(new Error(`the API exited (${code}): ${out}`)));
  });
  return { child, url };
}

/** Every process whose ancestry leads to `root`, from /proc. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone already
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, p] of parent) {
      if (p === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/** Whether a process is running (a zombie waiting for its parent is not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** A process's pid and command line, for a failure message. */
export function commandOf(pid: number): string {
  try {
    return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`;
  } catch {
    return `${pid}`;
  }
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** A CLI's main run with its stdout and stderr kept as text. */
async function captured(
  main: (io: { stdout: Out; stderr: Out }) => Promise<number>,
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stream = (into: string[]) => ({ write: (text: string) => into.push(text), isTTY: false });
  const status = await main({ stdout: stream(out), stderr: stream(err) });
  return { status, stdout: out.join(''), stderr: err.join('') };
}
type Out = { write(text: string): unknown; isTTY?: boolean };

/**
 * `pnpm bench ARGS` in this process: the CLI's own main with its streams captured, what a spawned
 * run shows (exit code, stdout, stderr) without a process of its own. Processes are kept for what
 * only a process can show (signals, orphans).
 */
export async function bench(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  signal = new AbortController().signal,
): Promise<CliResult> {
  const { benchMain } = await import('../src/cli/bench-main.ts');
  return captured((io) => benchMain(args, { ...io, signal, env: { ...process.env, ...env } }));
}

/** `pnpm report ARGS` in this process. */
export async function report(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const { reportMain } = await import('../src/cli/report-main.ts');
  return captured((io) => reportMain(args, { ...io, env: { ...process.env, ...env } }));
}

/**
 * The suite's one spawned smoke run (smoke-run.setup.ts), once it has ended: its CLI result and
 * its run folder.
 */
export async function smokeRun(): Promise<CliResult & { runDir: string; args: string[] }> {
  const { inject } = await import('vitest');
  const out = inject('smokeRunOut');
  const file = path.join(out, 'cli.json');
  const deadline = Date.now() + 240_000;
  while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const cli = readJson(file) as CliResult & { args: string[] };
  return { ...cli, runDir: runDirIn(path.join(out, 'results')) };
}
