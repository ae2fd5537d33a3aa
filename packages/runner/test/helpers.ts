/** What several runner tests share: reading result files, the results schema, and the API started by hand. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

const SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../schema/results.schema.json', import.meta.url)), 'utf8'));
const API = fileURLToPath(new URL('../../target-api/src/server.ts', import.meta.url));

export function readJson(file: string): Record<string, any> {
  return JSON.parse(readFileSync(file, 'utf8'));
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

/** The built-in API as a process of the test's own, as a user would start it: the harness does not know it. */
export async function startApiByHand(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', API, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
