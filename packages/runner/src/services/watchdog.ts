/**
 * The run's watchdog: children must not outlive the runner, however it dies (SIGKILL included,
 * which no handler sees). A small process of its own holds the other end of a pipe; the runner
 * tells it every process, process group and temporary folder it starts and lets go of each one it
 * stops. When the pipe closes, the runner is gone: whatever is still registered is killed (SIGKILL)
 * and removed. Started at the first registration; it never keeps the runner alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./watchdog-process.mjs', import.meta.url));

let watchdog: ChildProcess | null = null;

function tell(line: string): void {
  if (!watchdog) {
    // Its own session: a terminal's Ctrl-C or a killed process group of the runner does not reach
    // it.
    watchdog = spawn(process.execPath, [SCRIPT], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', () => {});
    watchdog.stdin?.on('error', () => {});
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  watchdog.stdin?.write(`${line}\n`);
}

/** A process (or, with `group`, the process group it leads) to kill if the runner dies first. */
export function watchProcess(pid: number | null | undefined, group = false): void {
  if (pid) tell(`+${group ? 'group' : 'pid'} ${pid}`);
}

export function releaseProcess(pid: number | null | undefined, group = false): void {
  if (pid && watchdog) tell(`-${group ? 'group' : 'pid'} ${pid}`);
}

/** A folder to remove if the runner dies first. */
export function watchDir(dir: string | null | undefined): void {
  if (dir) tell(`+dir ${dir}`);
}

export function releaseDir(dir: string | null | undefined): void {
  if (dir && watchdog) tell(`-dir ${dir}`);
}

/** The watchdog's pid, once started (for tests). */
export function watchdogPid(): number | null {
  return watchdog?.pid ?? null;
}
