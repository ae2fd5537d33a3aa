/**
 * --engine jmeter: a cell's measured schedule sent by Apache JMeter instead of mailbench's
 * generator, with the original experiment's plan (one thread group: N threads started evenly over
 * the window, loop 1, a connection per request), and its log read back into the cell. Each
 * sample's intended time is its thread's start by the ramp-up (thread k of N at k·T/N from the
 * test's start, which JMeter prints), so JMeter's start-up bunching and any thread that started
 * late show as dispatch error, judged like the generator's own. The warm-up stays mailbench's.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resultFromSamples, type OpenLoopResult, type Sample } from '@mailbench/loadgen';
import { findJMeter, jmeterCommand, runCommand } from '../services/engines.ts';
import { jmeterPlan } from '../export/export.ts';
import { PASSWORD, type SignupNames } from '../config/requests.ts';
import type { Scenario } from '../shapes/scenario.ts';

/**
 * Request i's body as JMeter writes it: thread n (1-based) is sign-up n − 1, the names mailbench's
 * accounting reads.
 */
export function jmeterSignupBody(names: SignupNames): string {
  const i = '${__intSum(${__threadNum},-1)}';
  const username = names.username('u', 0).replace(/0$/, i);
  const email = names.email('u', 0).replace(/^u0\./, `u${i}.`);
  return JSON.stringify({ username, email, password: PASSWORD });
}

/** The test's start as JMeter prints it: "Starting the test @ <date> (<epoch ms>)". */
export function jmeterStartEpochMs(stdout: string): number | null {
  const m = /Starting the test @ .*\((\d{12,})\)/.exec(stdout);
  return m ? Number(m[1]) : null;
}

/**
 * The samples of a JMeter CSV log (with field names; timeStamp = the sample's start): sample i is
 * thread i + 1's, intended at i·T/N after t0. A thread without a row (JMeter stopped early) is a
 * sample without a response.
 */
export function samplesFromJtl(
  csv: string,
  t0EpochMs: number,
  count: number,
  durationMs: number,
): Sample[] {
  const [header, ...rows] = csv.trim().split('\n');
  const fields = (header ?? '').split(',');
  const col = (name: string) => {
    const k = fields.indexOf(name);
    if (k < 0) throw new Error(`JMeter's log has no ${name} column (fields: ${fields.join(', ')})`);
    return k;
  };
  const [ts, elapsed, code, thread, bytes] = [
    col('timeStamp'),
    col('elapsed'),
    col('responseCode'),
    col('threadName'),
    col('bytes'),
  ];
  // JMeter's own time to first byte, where its log has the column.
  const latency = fields.indexOf('Latency');
  const intended = (i: number) => (i * durationMs) / count;
  const samples: Sample[] = Array.from({ length: count }, (_, i) => ({
    i,
    intendedMs: intended(i),
    sentMs: intended(i),
    endMs: intended(i),
    status: 0,
    error: 'NOT_SENT',
    bytes: 0,
  }));
  for (const row of rows) {
    // The thread name ends in "<group>-<thread>"; the fields before it hold no commas in this plan.
    const cells = row.split(',');
    const threadNum = Number(/-(\d+)$/.exec(cells[thread] ?? '')?.[1]);
    const i = threadNum - 1;
    if (!Number.isInteger(i) || i < 0 || i >= count) continue;
    const sentMs = Number(cells[ts]) - t0EpochMs;
    const status = Number(cells[code]);
    samples[i] = {
      i,
      intendedMs: intended(i),
      sentMs,
      headersMs:
        latency >= 0 && Number(cells[latency]) > 0 ? sentMs + Number(cells[latency]) : null,
      endMs: sentMs + Number(cells[elapsed]),
      status: Number.isInteger(status) && status >= 100 ? status : 0,
      error:
        Number.isInteger(status) && status >= 100
          ? null
          : (cells[code] || 'JMETER_ERROR').replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 60),
      bytes: Number(cells[bytes]) || 0,
    };
  }
  return samples;
}

/**
 * Runs one cell's schedule with JMeter against baseUrl; the result reads like the generator's own.
 */
export async function runJMeterCell(
  scenario: Pick<Scenario, 'durationSec' | 'timeoutSec' | 'connection' | 'behindThresholdMs'>,
  count: number,
  baseUrl: string,
  names: SignupNames,
  signal: AbortSignal,
  expected?: (sample: Sample) => boolean,
): Promise<OpenLoopResult> {
  const home = findJMeter();
  if (!home)
    throw new Error(
      '--engine jmeter: JMeter is not installed (pnpm setup:engines, or set JMETER_HOME)',
    );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailbench-jmeter-cell-'));
  try {
    const plan = path.join(dir, 'cell.jmx');
    const jtl = path.join(dir, 'cell.jtl');
    const header = [
      `mailbench cell: ${count} sign-ups, one thread each, started evenly over ${scenario.durationSec} s (loop 1)`,
    ];
    writeFileSync(
      plan,
      jmeterPlan(
        { count, durationSec: scenario.durationSec, stages: null },
        scenario,
        baseUrl,
        header,
        () => jmeterSignupBody(names),
      ),
    );
    const cmd = jmeterCommand(home, [
      '-n',
      '-t',
      plan,
      '-l',
      jtl,
      '-j',
      path.join(dir, 'jmeter.log'),
      '-Jjmeter.save.saveservice.print_field_names=true',
      '-Jsampleresult.timestamp.start=true',
    ]);
    const timeoutMs = (scenario.durationSec + scenario.timeoutSec + 60) * 1000;
    const run = await runCommand(cmd.command, cmd.args, { cwd: dir, timeoutMs, signal });
    if (signal.aborted) throw new Error('interrupted');
    const t0 = jmeterStartEpochMs(run.stdout);
    if (run.code !== 0 || t0 === null)
      throw new Error(
        `JMeter failed (exit ${run.code}): ${(run.stderr || run.stdout).trim().split('\n').slice(-5).join(' | ')}`,
      );
    const samples = samplesFromJtl(
      readFileSync(jtl, 'utf8'),
      t0,
      count,
      scenario.durationSec * 1000,
    );
    const runInfo = {
      t0EpochMs: t0,
      durationMs: scenario.durationSec * 1000,
      connection: 'per-request' as const,
      behindThresholdMs: scenario.behindThresholdMs,
      scheduler: 'jmeter' as const,
      connectionsAhead: { opened: 0, used: 0 },
    };
    return resultFromSamples(samples, runInfo, expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
