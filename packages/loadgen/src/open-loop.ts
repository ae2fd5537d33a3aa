/**
 * runOpenLoop(): N requests evenly spread over T, each sent on time however slow the
 * answers are (JMeter's ramp-up, without its start-up bunching). Runs the schedule in a
 * worker thread; returns every sample and HdrHistogram summaries.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { bundleForNode } from './bundle.ts';
import { LoadgenError } from './errors.ts';
import { summarize } from './histogram.ts';
import { probeBaseUrl } from './probe.ts';
import { evenDueTimes, stageDueTimes, stagesDurationMs } from './schedule.ts';
import type {
  OpenLoopOptions,
  OpenLoopResult,
  ProgressEvent,
  RequestSpec,
  Sample,
} from './types.ts';
import type { WorkerDone, WorkerStart } from './open-loop-worker.ts';

let scheduler: Promise<string> | null = null;

/**
 * The scheduler thread's file: open-loop-worker.ts bundled into dist/ once per process (afresh, so
 * never older than its source), run as JavaScript. MAILBENCH_LOADER=tsx runs the source through
 * tsx instead, to compare the two.
 */
function schedulerFile(): Promise<string | URL> {
  if (process.env.MAILBENCH_LOADER === 'tsx')
    return Promise.resolve(new URL('./open-loop-worker-boot.mjs', import.meta.url));
  scheduler ??= bundleForNode(
    { 'open-loop-worker': fileURLToPath(new URL('./open-loop-worker.ts', import.meta.url)) },
    fileURLToPath(new URL('../dist/', import.meta.url)),
  ).then(
    (files) => files['open-loop-worker'] as string,
    (err: Error) => {
      scheduler = null;
      throw new LoadgenError(
        'ERR_LOADGEN_BUILD',
        `could not bundle the scheduler thread: ${err.message}`,
      );
    },
  );
  return scheduler;
}

function invalid(message: string): LoadgenError {
  return new LoadgenError('ERR_LOADGEN_OPTION_INVALID', message);
}

/** The measured schedule: how many requests, over how long, each due when. */
export function resolveSchedule(
  options: Pick<OpenLoopOptions, 'count' | 'durationMs' | 'stages'>,
): { count: number; durationMs: number; due: Float64Array } {
  if (options.stages !== undefined) {
    if (options.count !== undefined || options.durationMs !== undefined)
      throw invalid('give either stages, or count and durationMs, not both');
    const due = stageDueTimes(options.stages);
    return { count: due.length, durationMs: stagesDurationMs(options.stages), due };
  }
  const { count, durationMs } = options;
  if (count === undefined || !Number.isInteger(count) || count <= 0)
    throw invalid(`count must be a whole number > 0, got ${count}`);
  if (durationMs === undefined || !Number.isFinite(durationMs) || durationMs <= 0)
    throw invalid(`durationMs must be > 0, got ${durationMs}`);
  return { count, durationMs, due: evenDueTimes(count, durationMs) };
}

export function validateOpenLoopOptions(options: OpenLoopOptions): void {
  resolveSchedule(options);
  if (typeof options.request !== 'function')
    throw invalid('request must be a function (i) => ({ method, path, headers, body })');
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw invalid(`timeoutMs must be > 0, got ${timeoutMs}`);
  const connection = options.connection ?? 'per-request';
  if (connection !== 'per-request' && connection !== 'keep-alive') {
    throw invalid(`connection must be per-request or keep-alive, got ${String(connection)}`);
  }
  if (options.warmup) {
    if (!Number.isInteger(options.warmup.count) || options.warmup.count < 0)
      throw invalid(`warmup.count must be a whole number >= 0, got ${options.warmup.count}`);
    if (options.warmup.count > 0 && !(options.warmup.durationMs > 0))
      throw invalid(`warmup.durationMs must be > 0, got ${options.warmup.durationMs}`);
  }
}

function buildRequests(count: number, factory: (i: number) => RequestSpec): RequestSpec[] {
  const out: RequestSpec[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = factory(i);
  return out;
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  validateOpenLoopOptions(options);
  const schedule = resolveSchedule(options);
  await probeBaseUrl(options.baseUrl);
  const connection = options.connection ?? 'per-request';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const behindThresholdMs = options.behindThresholdMs ?? 10;
  // Build every request up front: the worker only schedules, and a slow factory cannot delay a
  // dispatch.
  const requests = buildRequests(schedule.count, options.request);
  const warmup = options.warmup && options.warmup.count > 0 ? options.warmup : null;
  const start: WorkerStart = {
    type: 'start',
    baseUrl: options.baseUrl,
    connection,
    timeoutMs,
    progressIntervalMs: options.progressIntervalMs ?? 500,
    warmup: warmup
      ? {
          requests: buildRequests(
            warmup.count,
            warmup.request ?? ((i) => options.request(schedule.count + i)),
          ),
          due: evenDueTimes(warmup.count, warmup.durationMs),
        }
      : null,
    requests,
    due: schedule.due,
  };

  options.signal?.throwIfAborted();
  const worker = new Worker(await schedulerFile());
  const onAbort = () => void worker.terminate();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const done = await new Promise<WorkerDone>((resolve, reject) => {
    worker.on(
      'message',
      (
        message:
          | (ProgressEvent & { type: 'progress' })
          | { type: 'started'; phase: ProgressEvent['phase']; t0EpochMs: number }
          | WorkerDone,
      ) => {
        if (message.type === 'progress') {
          const { type: _type, ...event } = message;
          options.onProgress?.(event);
        } else if (message.type === 'started') {
          if (message.phase === 'measure') options.onStart?.(message.t0EpochMs);
        } else if (message.type === 'done') {
          resolve(message);
        }
      },
    );
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (options.signal?.aborted)
        reject(new LoadgenError('ERR_LOADGEN_ABORTED', 'the open-loop run was aborted'));
      else
        reject(
          new LoadgenError(
            'ERR_LOADGEN_WORKER',
            `the scheduler thread exited with code ${code} before finishing`,
          ),
        );
    });
    worker.postMessage(start);
  }).finally(() => options.signal?.removeEventListener('abort', onAbort));
  await worker.terminate();
  return buildResult(
    done,
    schedule,
    connection,
    behindThresholdMs,
    options.expected ?? isExpected2xx,
  );
}

function buildResult(
  done: WorkerDone,
  schedule: { count: number; durationMs: number },
  connection: OpenLoopResult['connection'],
  behindThresholdMs: number,
  expected: (sample: Sample) => boolean,
): OpenLoopResult {
  const samples: Sample[] = new Array(schedule.count);
  for (let i = 0; i < schedule.count; i++) {
    const errorIndex = done.errorIndex[i] as number;
    samples[i] = {
      i,
      intendedMs: done.intended[i] as number,
      sentMs: done.sent[i] as number,
      headersMs: (done.headers[i] as number) > 0 ? (done.headers[i] as number) : null,
      endMs: done.end[i] as number,
      status: done.status[i] as number,
      error: errorIndex >= 0 ? (done.errorCodes[errorIndex] ?? 'UNKNOWN') : null,
      bytes: done.bytes[i] as number,
    };
  }
  return resultFromSamples(
    samples,
    {
      t0EpochMs: done.t0EpochMs,
      durationMs: schedule.durationMs,
      connection,
      behindThresholdMs,
      scheduler: 'worker-thread',
      connectionsAhead: done.warmSockets,
    },
    expected,
  );
}

/** The default of `expected`: the request got a 2xx. */
export function isExpected2xx(sample: Pick<Sample, 'status'>): boolean {
  return sample.status >= 200 && sample.status < 300;
}

/**
 * An open-loop result from its samples (in schedule order, times relative to t0): the summaries
 * every engine's samples get alike, whether mailbench's scheduler sent them or another engine
 * whose log was read back.
 */
export function resultFromSamples(
  samples: Sample[],
  run: Pick<
    OpenLoopResult,
    | 't0EpochMs'
    | 'durationMs'
    | 'connection'
    | 'behindThresholdMs'
    | 'scheduler'
    | 'connectionsAhead'
  >,
  expected: (sample: Sample) => boolean = isExpected2xx,
): OpenLoopResult {
  const n = samples.length;
  const fromIntended = new Float64Array(n);
  const fromSend = new Float64Array(n);
  const dispatchError = new Float64Array(n);
  const wanted: number[] = [];
  const statusCounts: Record<string, number> = {};
  const errorCounts: Record<string, number> = {};
  let lastEndMs = 0;
  for (let i = 0; i < n; i++) {
    const sample = samples[i] as Sample;
    const { intendedMs, sentMs, endMs, status, error } = sample;
    fromIntended[i] = endMs - intendedMs;
    fromSend[i] = endMs - sentMs;
    dispatchError[i] = sentMs - intendedMs;
    if (expected(sample)) wanted.push(i);
    if (endMs > lastEndMs) lastEndMs = endMs;
    if (status > 0) statusCounts[String(status)] = (statusCounts[String(status)] ?? 0) + 1;
    if (error) errorCounts[error] = (errorCounts[error] ?? 0) + 1;
  }
  const dispatch = summarize(dispatchError);
  const responses = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const perSec = (count: number) => (lastEndMs > 0 ? count / (lastEndMs / 1000) : 0);
  return {
    ...run,
    count: n,
    samples,
    expectedResponses: wanted.length,
    latencyFromIntended: summarize(wanted.map((i) => fromIntended[i] as number)),
    latencyFromSend: summarize(wanted.map((i) => fromSend[i] as number)),
    latencyAll: { fromIntended: summarize(fromIntended), fromSend: summarize(fromSend) },
    dispatchError: dispatch,
    generatorBehind: dispatch.p99 > run.behindThresholdMs,
    statusCounts,
    errorCounts,
    throughputPerSec: perSec(wanted.length),
    responsesPerSec: perSec(responses),
    offeredRatePerSec: n / (run.durationMs / 1000),
    lastEndMs,
  };
}
