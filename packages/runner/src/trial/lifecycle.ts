/**
 * One trial, the same for a cell, a breaking-point step and a capacity probe: start the target
 * on a clean database, warm up, load it on a schedule (the caller's) with the server sampled and
 * the faults beside it, settle (the caller's: drain the mail, wait for a deadline, or nothing),
 * count the stored users, stop it and clean up. Each phase's value is returned; the caller
 * accounts and assembles its own result from them.
 */
import { runOpenLoop, type OpenLoopResult } from '@mailbench/loadgen';
import type { MailCounters, ShutdownReport } from '@mailbench/target-api/contract';
import { answeredAsMeant } from '../config/requests.ts';
import { isReference } from '../config/references.ts';
import { subjectFacts } from '../config/subjects.ts';
import { apiCommand, ServerStartError } from '../targets/api-server.ts';
import {
  CellServer,
  ExternalTarget,
  ReferenceTarget,
  type CellTarget,
} from '../targets/cell-server.ts';
import { referenceWiring, spawnReference } from '../targets/reference-targets.ts';
import type { ServerSample } from '../shapes/results.ts';
import type { Faults, Subject } from '../shapes/scenario.ts';
import type { CellContext, CellSpec } from './context.ts';
import { drainOwed, sinkLatencyMs } from './drain.ts';
import { pinningPlan } from '../services/pinning.ts';
import { runJMeterCell } from './jmeter-cell.ts';
import { openCellWindow, type CellWindow } from './window.ts';

/** What a trial runs: its subject and database, and the two phases that differ between trials. */
export interface TrialPlan<Load, Settled> {
  variant: Subject;
  dbName: string;
  /** The faults armed beside the load (a cell's; none for steps and probes). */
  faults: Faults;
  /** Whether the server is sampled every second during the load and the settling. */
  sample: boolean;
  /** The load on its schedule. */
  load(trial: Trial): Promise<Load>;
  /** After the load, before the stop: a drain, a deadline, or nothing. */
  settle(trial: Trial, load: Load): Promise<Settled>;
  /** How long the server may take to stop gracefully (its drain) before it is killed. */
  stopTimeoutMs: number;
}

/** What the load and the settling work with. */
export interface Trial {
  ctx: CellContext;
  server: CellTarget;
  window: CellWindow;
  /** Aborted on Ctrl-C or when the target goes away. */
  signal: AbortSignal;
}

/** Each phase's value; null for a phase the trial did not reach. */
export interface TrialOutcome<Load, Settled> {
  startedAt: string;
  endedAt: string;
  pid: number | null;
  /** The server's e-mail counters after the warm-up (the measurement's zero). */
  warmupCounters: MailCounters | null;
  warmupUsers: number | null;
  load: Load | null;
  settled: Settled | null;
  series: ServerSample[];
  usersInDb: number | null;
  shutdown: ShutdownReport | null;
  /** Why the trial did not finish, and the server's last words. */
  error: { message: string; stderrTail: string | null } | null;
  server: CellTarget;
  window: CellWindow | null;
}

export async function runTrial<Load, Settled>(
  ctx: CellContext,
  plan: TrialPlan<Load, Settled>,
): Promise<TrialOutcome<Load, Settled>> {
  // The sink's latency is the trial's (a swept SMTP latency, or the scenario's own), set here only.
  ctx.sink.setLatency(ctx.scenario.smtp.latency);
  const server = openTarget(ctx, plan.variant, plan.dbName);
  const out: TrialOutcome<Load, Settled> = {
    startedAt: new Date().toISOString(),
    endedAt: '',
    pid: null,
    warmupCounters: null,
    warmupUsers: null,
    load: null,
    settled: null,
    series: [],
    usersInDb: null,
    shutdown: null,
    error: null,
    server,
    window: null,
  };
  const signal = AbortSignal.any([ctx.signal, server.gone.signal]);
  try {
    await cleanUp(ctx, plan.dbName);
    out.pid = await server.start();
    out.warmupCounters = await warmUp(ctx, server, subjectFacts(plan.variant).sendsMail, signal);
    out.warmupUsers = await countUsers(ctx, plan.dbName, 'w');
    ctx.sink.reset();
    const window = openCellWindow(server, ctx.sink, plan.faults, plan.sample);
    out.window = window;
    try {
      const trial = { ctx, server, window, signal };
      out.load = await plan.load(trial);
      out.settled = await plan.settle(trial, out.load);
    } finally {
      window.close();
      out.series = window.series;
    }
    out.usersInDb = await countUsers(ctx, plan.dbName, 'u');
    out.shutdown = await server.stop(plan.stopTimeoutMs);
  } catch (err) {
    out.error = failureOf(err, server);
  } finally {
    await server.dispose();
    await cleanUp(ctx, plan.dbName).catch(() => {});
  }
  out.endedAt = new Date().toISOString();
  return out;
}

function failureOf(
  err: unknown,
  server: CellTarget,
): { message: string; stderrTail: string | null } {
  if (err instanceof ServerStartError) return { message: err.message, stderrTail: err.stderr };
  return {
    message: server.failure?.error ?? (err as Error).message,
    stderrTail: server.failure?.stderrTail ?? server.stderrTail(),
  };
}

/**
 * The API a cell loads: forked fresh for a built-in variant, started fresh for a reference target,
 * or the run's external target.
 */
export function openTarget(ctx: CellContext, variant: Subject, dbName: string): CellTarget {
  if (ctx.target) return new ExternalTarget(ctx.target.url);
  if (variant === 'external' || ctx.mongoUri === null)
    throw new Error('an external cell needs --target; a built-in one, a database');
  if (isReference(variant)) {
    const wiring = referenceWiring(ctx.mongoUri, dbName, ctx.sink);
    return new ReferenceTarget(
      () =>
        spawnReference(
          variant,
          wiring,
          ctx.scenario.reference,
          ctx.scenario.pinCores ? pinningPlan().api : null,
        ),
      ctx.onServer,
    );
  }
  return new CellServer(
    apiCommand(ctx.scenario, variant, {
      mongoUri: ctx.mongoUri,
      dbName,
      sink: ctx.sink,
      redisUrl: ctx.redisUrl ?? null,
    }),
    ctx.onServer,
  );
}

/**
 * Users stored by this run's warm-up or measured sign-ups; null where the database is not known.
 */
async function countUsers(
  ctx: CellContext,
  dbName: string,
  prefix: 'w' | 'u',
): Promise<number | null> {
  if (!ctx.client) return null;
  const db = ctx.target ? ctx.client.db() : ctx.client.db(dbName);
  return db.collection('users').countDocuments(ctx.names.usersFilter(prefix));
}

/**
 * What a cell leaves behind: its own database, or on an external target's, only this run's users.
 */
export async function cleanUp(ctx: CellContext, dbName: string): Promise<void> {
  if (!ctx.client) return;
  if (!ctx.target) {
    await ctx.client.db(dbName).dropDatabase();
    return;
  }
  const users = ctx.client.db().collection('users');
  await users.deleteMany(ctx.names.usersFilter('w'));
  await users.deleteMany(ctx.names.usersFilter('u'));
}

/**
 * Warm-up: not recorded; waits for its e-mails so the sink is idle. Returns the server's counters
 * after it.
 */
export async function warmUp(
  ctx: CellContext,
  server: CellTarget,
  sendsMail: boolean,
  signal: AbortSignal,
): Promise<MailCounters | null> {
  const s = ctx.scenario;
  ctx.sink.reset();
  if (s.warmup.requests > 0) {
    ctx.onPhase?.(
      `warm-up: ${s.warmup.requests} sign-ups over ${s.warmup.durationSec} s (not recorded)`,
    );
    const warm = await runOpenLoop({
      baseUrl: server.url,
      count: s.warmup.requests,
      durationMs: s.warmup.durationSec * 1000,
      connection: s.connection,
      timeoutMs: s.timeoutSec * 1000,
      request: (i) => ctx.names.signup('w', i),
      signal,
    });
    const ok = warm.statusCounts['201'] ?? 0;
    // A target the harness cannot look into is done when every warm-up e-mail has arrived; only
    // when some do not is its mail waited for by quiet.
    const arrived =
      ok > 0 &&
      sendsMail &&
      !server.owned &&
      (await ctx.sink.waitFor(ok, { timeoutMs: Math.min(s.drainTimeoutSec, 30) * 1000 }).then(
        () => true,
        () => false,
      ));
    if (ok > 0 && sendsMail && !arrived)
      await drainOwed(
        ctx.sink,
        server,
        ctx.names,
        new Set(),
        s.drainTimeoutSec * 1000,
        sinkLatencyMs(s),
      );
    await ctx.sink.waitForIdle({ quietMs: 300, timeoutMs: 30_000 }).catch(() => {});
  }
  // Also starts the server's event-loop and CPU window afresh for the measurement.
  return (await server.metrics(true))?.emails ?? null;
}

/** The measured open-loop schedule. */
export async function measure(
  ctx: CellContext,
  spec: CellSpec,
  server: CellTarget,
  window: CellWindow,
  signal: AbortSignal,
): Promise<OpenLoopResult> {
  const s = ctx.scenario;
  const share = s.faults.badInput?.share;
  if (s.engine === 'jmeter') {
    // JMeter says when it started only in its log, read afterwards: its faults count from here.
    window.start(Date.now());
    ctx.onPhase?.(
      `JMeter: ${spec.requests} threads started over ${s.durationSec} s, a request each`,
    );
    const run = await runJMeterCell(s, spec.requests, server.url, ctx.names, signal, (x) =>
      answeredAsMeant(x.i, x.status, share),
    );
    window.setT0(run.t0EpochMs);
    window.endFaults();
    return run;
  }
  const run = await runOpenLoop({
    baseUrl: server.url,
    ...(s.stages
      ? { stages: s.stages }
      : { count: spec.requests, durationMs: s.durationSec * 1000 }),
    connection: s.connection,
    timeoutMs: s.timeoutSec * 1000,
    behindThresholdMs: s.behindThresholdMs,
    request: (i) => ctx.names.measured(i, share),
    expected: (x) => answeredAsMeant(x.i, x.status, share),
    onProgress: ctx.onProgress,
    // The faults count from the schedule's real start, not from when the generator was asked.
    onStart: (t0EpochMs) => window.start(t0EpochMs),
    signal,
  });
  window.setT0(run.t0EpochMs);
  window.endFaults();
  return run;
}
