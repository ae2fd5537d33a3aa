/**
 * The open-loop scheduler, in a worker thread of its own so that nothing else (the SMTP sink,
 * metrics polling, result writing in the runner) delays a dispatch. Request i is due at
 * t0 + i·T/N and is sent then, however many earlier requests are still waiting for an answer.
 *
 * Timing: sleep with setTimeout until ~1.5 ms before the next due time, then yield with
 * setImmediate (I/O still runs) until it is due; dispatch everything due at once.
 */
import { parentPort } from 'node:worker_threads';
import { Pool } from 'undici';
import type { ConnectionMode, RequestSpec } from './types.ts';

export interface WorkerStart {
  type: 'start';
  baseUrl: string;
  connection: ConnectionMode;
  timeoutMs: number;
  progressIntervalMs: number;
  warmup: { requests: RequestSpec[]; due: Float64Array } | null;
  requests: RequestSpec[];
  /** Request i is due at due[i] ms after t0 (non-decreasing). */
  due: Float64Array;
}

/** One column per sample field, index i is request i (transferred to the main thread as is). */
interface SampleColumns {
  intended: Float64Array;
  sent: Float64Array;
  end: Float64Array;
  status: Int32Array;
  errorIndex: Int32Array;
  bytes: Int32Array;
}

export interface WorkerDone extends SampleColumns {
  type: 'done';
  t0EpochMs: number;
  errorCodes: string[];
}

const EARLY_WAKE_MS = 1.5;

function errorCodeOf(err: unknown): string {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'ETIMEDOUT';
  return e?.code ?? e?.cause?.code ?? e?.name ?? 'UNKNOWN';
}

interface Run extends SampleColumns {
  sentCount: number;
  completed: number;
  errors: number;
}

function newRun(due: Float64Array): Run {
  const n = due.length;
  const run: Run = {
    intended: Float64Array.from(due),
    sent: new Float64Array(n),
    end: new Float64Array(n),
    status: new Int32Array(n),
    errorIndex: new Int32Array(n).fill(-1),
    bytes: new Int32Array(n),
    sentCount: 0,
    completed: 0,
    errors: 0,
  };
  return run;
}

/** Sends request i now and records its send time, answer and end time into the run's columns. */
function createDispatcher(pool: Pool, requests: RequestSpec[], run: Run, t0: number, start: WorkerStart, errorCodes: string[], onEnd: () => void) {
  const perRequest = start.connection === 'per-request';
  const fail = (i: number, err: unknown) => {
    const code = errorCodeOf(err);
    let k = errorCodes.indexOf(code);
    if (k === -1) k = errorCodes.push(code) - 1;
    run.errorIndex[i] = k;
    run.errors++;
  };
  const finish = (i: number) => {
    run.end[i] = performance.now() - t0;
    run.completed++;
    onEnd();
  };
  return (i: number) => {
    const spec = requests[i] as RequestSpec;
    run.sent[i] = performance.now() - t0;
    run.sentCount++;
    const options: Parameters<Pool['request']>[0] = {
      method: spec.method,
      path: spec.path,
      headers: spec.headers ?? {},
      reset: perRequest,
      headersTimeout: start.timeoutMs,
      bodyTimeout: start.timeoutMs,
      signal: AbortSignal.timeout(start.timeoutMs),
    };
    if (spec.body !== undefined) options.body = spec.body;
    pool.request(options).then(
      async (res) => {
        run.status[i] = res.statusCode;
        try {
          run.bytes[i] = (await res.body.arrayBuffer()).byteLength;
        } catch (err) {
          fail(i, err);
        }
        finish(i);
      },
      (err: unknown) => {
        fail(i, err);
        finish(i);
      },
    );
  };
}

async function runSchedule(
  pool: Pool,
  requests: RequestSpec[],
  due: Float64Array,
  start: WorkerStart,
  phase: 'warmup' | 'measure',
  errorCodes: string[],
): Promise<{ run: Run; t0: number }> {
  const n = requests.length;
  const run = newRun(due);
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const t0 = performance.now() + 5; // a few ms to let the first timer settle
  const dispatch = createDispatcher(pool, requests, run, t0, start, errorCodes, () => {
    if (run.completed === n) resolveDone();
  });

  const progress = setInterval(() => {
    parentPort?.postMessage({
      type: 'progress',
      phase,
      elapsedMs: performance.now() - t0,
      scheduled: n,
      sent: run.sentCount,
      completed: run.completed,
      inFlight: run.sentCount - run.completed,
      errors: run.errors,
    });
  }, start.progressIntervalMs);

  let next = 0;
  const tick = () => {
    const now = performance.now() - t0;
    while (next < n && (run.intended[next] as number) <= now) dispatch(next++);
    if (next >= n) return;
    const wait = (run.intended[next] as number) - (performance.now() - t0);
    if (wait > EARLY_WAKE_MS + 0.5) setTimeout(tick, wait - EARLY_WAKE_MS);
    else setImmediate(tick);
  };
  if (n === 0) resolveDone();
  else setTimeout(tick, Math.max(0, t0 - performance.now() - EARLY_WAKE_MS));
  await done;
  clearInterval(progress);
  return { run, t0 };
}

parentPort?.once('message', async (start: WorkerStart) => {
  const pool = new Pool(start.baseUrl, {
    connections: null, // never queue inside the client: that would be coordinated omission
    pipelining: 1,
    keepAliveTimeout: 10_000,
    connectTimeout: start.timeoutMs,
  });
  const errorCodes: string[] = [];
  if (start.warmup && start.warmup.requests.length > 0) {
    await runSchedule(pool, start.warmup.requests, start.warmup.due, start, 'warmup', []);
  }
  const { run, t0 } = await runSchedule(pool, start.requests, start.due, start, 'measure', errorCodes);
  const done: WorkerDone = {
    type: 'done',
    t0EpochMs: performance.timeOrigin + t0,
    intended: run.intended,
    sent: run.sent,
    end: run.end,
    status: run.status,
    errorIndex: run.errorIndex,
    bytes: run.bytes,
    errorCodes,
  };
  parentPort?.postMessage(done, [done.intended.buffer, done.sent.buffer, done.end.buffer, done.status.buffer, done.errorIndex.buffer, done.bytes.buffer] as ArrayBuffer[]);
  await pool.close().catch(() => {});
});
