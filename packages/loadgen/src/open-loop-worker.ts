/**
 * The open-loop scheduler, in a worker thread of its own so that nothing else (the SMTP sink,
 * metrics polling, result writing in the runner) delays a dispatch. Request i is due at
 * t0 + i·T/N and is sent then, however many earlier requests are still waiting for an answer.
 *
 * Timing: sleep with setTimeout until 2 ms before the next due time, yield with setImmediate (I/O
 * still runs) until 0.25 ms before, then wait on the CPU (once per wake-up, only after a sleep);
 * dispatch everything due at once.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { buildConnector, Pool, type Dispatcher } from 'undici';
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
  /** When the response's headers arrived (time to first byte); 0: none arrived. */
  headers: Float64Array;
  end: Float64Array;
  status: Int32Array;
  errorIndex: Int32Array;
  bytes: Int32Array;
}

export interface WorkerDone extends SampleColumns {
  type: 'done';
  t0EpochMs: number;
  errorCodes: string[];
  /** Sockets opened ahead of need, and how many undici took. */
  warmSockets: { opened: number; used: number };
}

/** A timer wakes the thread this long before a due time (timers fire up to ~1 ms late)... */
const EARLY_WAKE_MS = 2;
/**
 * ...then it yields to I/O with setImmediate until this close, and waits out the rest on the CPU.
 */
const SPIN_MS = 0.25;

function errorCodeOf(err: unknown): string {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'ETIMEDOUT';
  return e?.code ?? e?.cause?.code ?? e?.name ?? 'UNKNOWN';
}

interface Run extends SampleColumns {
  /** undici's abort for a request on its socket, until it ends (the overall timeout uses it). */
  abort: Array<((err?: Error) => void) | null>;
  sentCount: number;
  completed: number;
  errors: number;
}

function newRun(due: Float64Array): Run {
  const n = due.length;
  const run: Run = {
    intended: Float64Array.from(due),
    sent: new Float64Array(n),
    headers: new Float64Array(n),
    end: new Float64Array(n),
    status: new Int32Array(n),
    errorIndex: new Int32Array(n).fill(-1),
    bytes: new Int32Array(n),
    abort: new Array(n).fill(null),
    sentCount: 0,
    completed: 0,
    errors: 0,
  };
  return run;
}

/**
 * Connections opened ahead of need, handed to undici by its connector: with a connection per
 * request, request i's socket is opened LEAD_MS before it is due, so at the due moment only the
 * write happens; with keep-alive, a few spare sockets wait for the moment every pooled
 * connection is busy. A socket the server closed while it waited is dropped, never handed over.
 */
class WarmSockets {
  private ready: Socket[] = [];
  opening = 0;
  /** Sockets opened ahead, and how many of them were used. */
  opened = 0;
  used = 0;
  private readonly host: string;
  private readonly port: number;
  private readonly connectTimeoutMs: number;
  private readonly fallback: buildConnector.connector;

  constructor(host: string, port: number, connectTimeoutMs: number) {
    this.host = host;
    this.port = port;
    this.connectTimeoutMs = connectTimeoutMs;
    this.fallback = buildConnector({ timeout: connectTimeoutMs });
  }

  get stock(): number {
    return this.ready.length + this.opening;
  }

  open(): void {
    this.opening++;
    this.opened++;
    const socket = netConnect({ host: this.host, port: this.port, noDelay: true });
    const drop = () => {
      const k = this.ready.indexOf(socket);
      if (k >= 0) this.ready.splice(k, 1);
    };
    const timer = setTimeout(() => socket.destroy(), this.connectTimeoutMs);
    // Still counted as opening until it connects or fails (a refused or timed-out connect is not
    // `connecting` any more by the time it closes, so that flag cannot tell).
    let waiting = true;
    socket.once('connect', () => {
      clearTimeout(timer);
      waiting = false;
      this.opening--;
      socket.setKeepAlive(true, 60_000);
      // Read while it waits, so that a close by the server is seen (an HTTP server sends nothing
      // first).
      socket.resume();
      this.ready.push(socket);
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      if (waiting) {
        waiting = false;
        this.opening--;
      }
      drop();
    });
  }

  /** undici's connector: a waiting socket when there is one, else a connection opened now. */
  readonly connect: buildConnector.connector = (options, callback) => {
    for (;;) {
      const socket = this.ready.shift();
      if (!socket) break;
      if (socket.destroyed || socket.readyState !== 'open' || socket.readableEnded) continue;
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      socket.pause();
      this.used++;
      // Not synchronously: undici ignores a resume from inside its own connect call.
      process.nextTick(callback, null, socket);
      return;
    }
    this.fallback(options, callback);
  };

  close(): void {
    for (const socket of this.ready.splice(0)) socket.destroy();
  }
}

/**
 * undici's dispatch handler for request i: a two-field object, its methods shared, so that a run
 * of 25 000 requests holds no closures per request (a large heap means long garbage collections,
 * and a collection on this thread delays every due request behind it). The send time is when
 * undici writes the request to its socket (onConnect): a late connection shows as dispatch error
 * instead of hiding in the latency.
 */
class RequestHandler {
  readonly i: number;
  readonly state: RunState;
  constructor(i: number, state: RunState) {
    this.i = i;
    this.state = state;
  }
  onConnect(abort: (err?: Error) => void): void {
    const { run, t0 } = this.state;
    run.sent[this.i] = performance.now() - t0;
    run.abort[this.i] = abort;
  }
  onHeaders(statusCode: number): boolean {
    const { run, t0 } = this.state;
    run.status[this.i] = statusCode;
    if (run.headers[this.i] === 0) run.headers[this.i] = performance.now() - t0;
    return true;
  }
  onData(chunk: Buffer): boolean {
    const bytes = this.state.run.bytes;
    bytes[this.i] = (bytes[this.i] as number) + chunk.length;
    return true;
  }
  onComplete(): void {
    this.state.run.abort[this.i] = null;
    this.state.finish(this.i);
  }
  onError(err: Error): void {
    const { run, t0 } = this.state;
    run.abort[this.i] = null;
    if (run.sent[this.i] === 0) run.sent[this.i] = performance.now() - t0;
    this.state.fail(this.i, err);
    this.state.finish(this.i);
  }
}

interface RunState {
  run: Run;
  t0: number;
  fail(i: number, err: unknown): void;
  finish(i: number): void;
}

function runState(run: Run, t0: number, errorCodes: string[], onEnd: () => void): RunState {
  return {
    run,
    t0,
    fail(i, err) {
      if (run.errorIndex[i] !== -1) return;
      const code = errorCodeOf(err);
      let k = errorCodes.indexOf(code);
      if (k === -1) k = errorCodes.push(code) - 1;
      run.errorIndex[i] = k;
      run.errors++;
    },
    finish(i) {
      run.end[i] = performance.now() - t0;
      run.completed++;
      onEnd();
    },
  };
}

function buildOptions(requests: RequestSpec[], start: WorkerStart): Dispatcher.DispatchOptions[] {
  const reset = start.connection === 'per-request';
  return requests.map((spec) => {
    const options: Dispatcher.DispatchOptions = {
      method: spec.method,
      path: spec.path,
      headers: spec.headers ?? {},
      reset,
      headersTimeout: start.timeoutMs,
      bodyTimeout: start.timeoutMs,
    };
    if (spec.body !== undefined) options.body = spec.body;
    return options;
  });
}

/**
 * Opens a request's own connection this long before it is due (a loopback connect takes well under
 * 1 ms; a busy thread, longer).
 */
const LEAD_MS = 30;
/** Spare sockets kept for a keep-alive pool whose connections are all busy. */
const KEEP_ALIVE_SPARES = 4;

class RequestTimeoutError extends Error {
  override name = 'TimeoutError';
}

async function runSchedule(
  pool: Pool,
  warm: WarmSockets,
  requests: RequestSpec[],
  due: Float64Array,
  start: WorkerStart,
  phase: 'warmup' | 'measure',
  errorCodes: string[],
): Promise<{ run: Run; t0: number }> {
  const n = requests.length;
  const run = newRun(due);
  const perRequest = start.connection === 'per-request';
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const options = buildOptions(requests, start);
  const t0 = performance.now() + 5 + (perRequest ? LEAD_MS : 0); // let the first timer settle and the first sockets open
  const state = runState(run, t0, errorCodes, () => {
    if (run.completed === n) resolveDone();
  });
  // When the schedule starts, for what must happen at a time into it (a fault, say).
  parentPort?.postMessage({ type: 'started', phase, t0EpochMs: performance.timeOrigin + t0 });

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

  // The overall timeout: requests leave in order, so the overdue ones are the oldest unfinished.
  let oldest = 0;
  const sweep = setInterval(
    () => {
      const now = performance.now() - t0;
      while (oldest < run.sentCount && (run.end[oldest] !== 0 || run.errorIndex[oldest] !== -1))
        oldest++;
      for (
        let i = oldest;
        i < run.sentCount && (run.intended[i] as number) + start.timeoutMs <= now;
        i++
      ) {
        const abort = run.abort[i];
        if (abort && run.end[i] === 0) {
          const timedOut = new RequestTimeoutError('the request did not complete within timeoutMs');
          state.fail(i, timedOut);
          abort(timedOut);
        }
      }
    },
    Math.min(100, start.timeoutMs / 4),
  );

  let next = 0;
  let warmed = 0;
  const tick = () => {
    for (let spun = false; ; spun = true) {
      const now = performance.now() - t0;
      while (next < n && (run.intended[next] as number) <= now) {
        const i = next++;
        run.sentCount++;
        pool.dispatch(
          options[i] as Dispatcher.DispatchOptions,
          new RequestHandler(i, state) as Dispatcher.DispatchHandler,
        );
      }
      if (perRequest) {
        while (warmed < n && (run.intended[warmed] as number) <= now + LEAD_MS) {
          if (warmed >= next) warm.open();
          warmed++;
        }
      } else {
        while (warm.stock < KEEP_ALIVE_SPARES) warm.open();
      }
      if (next >= n) return;
      const due = run.intended[next] as number;
      const wake =
        perRequest && warmed < n ? Math.min(due, (run.intended[warmed] as number) - LEAD_MS) : due;
      const wait = wake - (performance.now() - t0);
      if (wait > EARLY_WAKE_MS + 0.5) return void setTimeout(tick, wait - EARLY_WAKE_MS);
      // Wait out the last fraction of a millisecond on the CPU, once per wake-up and only after a
      // sleep (when requests are closer together the I/O loop's own turns are fine-grained enough).
      const afterSleep = next === 0 || due - (run.intended[next - 1] as number) > EARLY_WAKE_MS;
      if (wait > SPIN_MS || spun || !afterSleep) return void setImmediate(tick);
      while (performance.now() - t0 < wake);
    }
  };
  if (n === 0) resolveDone();
  else tick();
  await done;
  clearInterval(progress);
  clearInterval(sweep);
  return { run, t0 };
}

parentPort?.once('message', async (start: WorkerStart) => {
  // No stack traces on this thread. With a connection per request, undici ends every socket by
  // destroying it with an error of its own ('reset'), and Node's destroy reads that error's stack:
  // under tsx (source maps on) each read resolves paths and builds URLs, ~80 µs a request, 1/5 of
  // the thread at 2000 req/s and the reason it fell behind at 3000. Samples keep only error codes.
  Error.stackTraceLimit = 0;
  const url = new URL(start.baseUrl);
  const warm = new WarmSockets(url.hostname, Number(url.port || 80), start.timeoutMs);
  const pool = new Pool(start.baseUrl, {
    connections: null, // never queue inside the client: that would be coordinated omission
    pipelining: 1,
    keepAliveTimeout: 10_000,
    connect: warm.connect,
  });
  const errorCodes: string[] = [];
  if (start.warmup && start.warmup.requests.length > 0) {
    await runSchedule(pool, warm, start.warmup.requests, start.warmup.due, start, 'warmup', []);
  }
  const { run, t0 } = await runSchedule(
    pool,
    warm,
    start.requests,
    start.due,
    start,
    'measure',
    errorCodes,
  );
  warm.close();
  const done: WorkerDone = {
    type: 'done',
    t0EpochMs: performance.timeOrigin + t0,
    intended: run.intended,
    sent: run.sent,
    headers: run.headers,
    end: run.end,
    status: run.status,
    errorIndex: run.errorIndex,
    bytes: run.bytes,
    errorCodes,
    warmSockets: { opened: warm.opened, used: warm.used },
  };
  parentPort?.postMessage(done, [
    done.intended.buffer,
    done.sent.buffer,
    done.headers.buffer,
    done.end.buffer,
    done.status.buffer,
    done.errorIndex.buffer,
    done.bytes.buffer,
  ] as ArrayBuffer[]);
  await pool.close().catch(() => {});
});
