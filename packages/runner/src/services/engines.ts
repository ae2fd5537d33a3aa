/**
 * The load engines other than mailbench's own, where this machine has them: Artillery (npm,
 * kept out of the default install: `pnpm setup:engines` puts it in .engines/) and Apache JMeter
 * (Debian's jmeter 2.13, started through a small launcher that lets its plan loader work with
 * Debian's XStream; see engines/jmeter/MailbenchJMeter.java). k6 has no package here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../shapes/paths.ts';

export const ENGINES_DIR = path.join(REPO_ROOT, '.engines');
const LAUNCHER_SOURCE = fileURLToPath(
  new URL('../../engines/jmeter/MailbenchJMeter.java', import.meta.url),
);

function onPath(command: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Artillery's command: ARTILLERY_BIN, then .engines/ (pnpm setup:engines), then PATH; null when
 * absent.
 */
export function findArtillery(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.ARTILLERY_BIN) return existsSync(env.ARTILLERY_BIN) ? env.ARTILLERY_BIN : null;
  const local = path.join(ENGINES_DIR, 'artillery', 'node_modules', '.bin', 'artillery');
  return existsSync(local) ? local : onPath('artillery');
}

/**
 * JMeter's installation folder (JMETER_HOME, else Debian's /usr/share/jmeter), when it and a JDK
 * are here.
 */
export function findJMeter(env: NodeJS.ProcessEnv = process.env): string | null {
  const home = env.JMETER_HOME ?? '/usr/share/jmeter';
  if (!existsSync(path.join(home, 'bin', 'ApacheJMeter.jar'))) return null;
  return onPath('javac') && onPath('java') ? home : null;
}

export function findK6(): string | null {
  return onPath('k6');
}

/**
 * Compiles the JMeter launcher once per source version into the system's temporary folder; its
 * class folder.
 */
export function jmeterLauncher(): string {
  const source = readFileSync(LAUNCHER_SOURCE);
  const dir = path.join(
    os.tmpdir(),
    `mailbench-jmeter-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`,
  );
  if (!existsSync(path.join(dir, 'MailbenchJMeter.class'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('javac', ['-d', dir, LAUNCHER_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return dir;
}

/**
 * The java command line that runs JMeter non-GUI with these arguments (e.g. -n -t plan.jmx -l
 * out.jtl).
 */
export function jmeterCommand(home: string, args: string[]): { command: string; args: string[] } {
  const classpath = [
    jmeterLauncher(),
    path.join(home, 'bin', 'ApacheJMeter.jar'),
    path.join(home, 'lib', '*'),
    path.join(home, 'lib', 'ext', '*'),
  ].join(path.delimiter);
  return {
    command: 'java',
    args: ['-cp', classpath, `-Djmeter.home=${home}`, 'MailbenchJMeter', ...args],
  };
}

export interface EngineRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end (SIGKILL after timeoutMs, or when the signal aborts), collecting its
 * output.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<EngineRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout = (stdout + c.toString()).slice(-200_000)));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-200_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => {
      done();
      reject(err);
    });
    child.once('exit', (code) => {
      done();
      resolve({ code, stdout, stderr });
    });
  });
}
