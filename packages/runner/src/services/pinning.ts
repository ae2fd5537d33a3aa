/**
 * CPU pinning (`--pin-cores`): the API under test on the machine's last core, the harness (load
 * generator, SMTP sink, database stand-in, Redis: everything the runner starts but the API) on the
 * others, so that they stop taking turns on the same core. Done with util-linux's `taskset`, on
 * every thread of a process (`-a`); threads and children started later inherit their parent's
 * cores.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Pinning } from '../shapes/run.ts';

/** Why this machine cannot pin, or null when it can. */
export function pinningUnavailable(): string | null {
  if (process.platform !== 'linux') return 'CPU pinning uses taskset, which only Linux has';
  const cores = os.cpus().length;
  if (cores < 2) return `CPU pinning needs at least 2 cores (this machine has ${cores})`;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return 'taskset is not installed (apt-get install util-linux)';
  }
  return null;
}

/** The split: the last core for the API, the rest for the harness. */
export function pinningPlan(cores = os.cpus().length): Pinning {
  return {
    api: [cores - 1],
    harness: Array.from({ length: cores - 1 }, (_, k) => k),
  };
}

/**
 * Puts every thread of a process on the given cores. A process that has exited meanwhile is not an
 * error (a crash fault, or a server that failed to start, says so elsewhere).
 */
export function pinProcess(pid: number | undefined, cores: number[]): void {
  if (pid === undefined) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cores.join(','), String(pid)], { stdio: 'ignore' });
  } catch {
    // gone already
  }
}

/** The cores a process may run on, as taskset reports them (for the record and the tests). */
export function coresOf(pid: number): number[] {
  const out = execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' });
  const list = out.slice(out.lastIndexOf(':') + 1).trim();
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, k) => a + k);
  });
}
