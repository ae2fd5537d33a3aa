/**
 * One real `pnpm bench` process on the smoke scenario for the whole suite, started when the tests
 * start and read by every test that checks a finished run's files (schema, accounting, .jtl,
 * the report in a browser): `smokeRun()` in helpers.ts waits for it. Nothing waits for it here,
 * so the other tests run meanwhile.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const CLI = fileURLToPath(new URL('../src/cli/bench-cli.ts', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * The smoke run's --out folder; its exit code and output land in cli.json there when it ends.
     */
    smokeRunOut: string;
  }
}

export default function setup(project: TestProject) {
  const out = mkdtempSync(path.join(os.tmpdir(), 'mb-smoke-run-'));
  const args = [
    '--scenario',
    'smoke',
    '--mongo',
    'standin',
    '--threshold',
    'lost==0',
    '--out',
    path.join(out, 'results'),
  ];
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ended = new Promise<void>((resolve) => {
    child.once('exit', (status) => {
      writeFileSync(path.join(out, 'cli.json'), JSON.stringify({ status, stdout, stderr, args }));
      resolve();
    });
  });
  project.provide('smokeRunOut', out);
  return async () => {
    if (child.exitCode === null) child.kill('SIGINT');
    await ended;
  };
}
