/** What a result must carry to be read later: versions, machine, git state. */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shapes/paths.ts';
import type { MachineInfo } from '../shapes/run.ts';

export function machineInfo(): MachineInfo {
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    hostname: os.hostname(),
  };
}

/** Versions of Node and of every dependency of the workspace packages, as installed. */
export function collectVersions(): Record<string, string> {
  const versions: Record<string, string> = { node: process.version };
  const packagesDir = path.join(REPO_ROOT, 'packages');
  for (const pkg of readdirSync(packagesDir)) {
    const dir = path.join(packagesDir, pkg);
    let manifest: {
      name?: string;
      version?: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    try {
      manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (manifest.name && manifest.version) versions[manifest.name] = manifest.version;
    for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })) {
      if (versions[dep] || dep.startsWith('@mailbench/')) continue;
      for (const base of [path.join(dir, 'node_modules'), path.join(REPO_ROOT, 'node_modules')]) {
        try {
          const real = realpathSync(path.join(base, dep));
          versions[dep] = JSON.parse(readFileSync(path.join(real, 'package.json'), 'utf8')).version;
          break;
        } catch {
          // not installed under this folder
        }
      }
    }
  }
  return Object.fromEntries(Object.entries(versions).sort(([a], [b]) => a.localeCompare(b)));
}

export function gitInfo(): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', '.', ':!results'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** The runner package's version (packages/runner/package.json). */
export function runnerVersion(): string {
  const manifest = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  ) as { version?: string };
  return manifest.version ?? 'unknown';
}
