/**
 * One cell: a fresh API process for one variant and one request count. Warm up, measure an
 * open-loop schedule while sampling the server every second, drain the e-mails, account for
 * every user and message, stop the server gracefully.
 */
import type { MongoClient } from 'mongodb';
import { request as httpRequest } from 'undici';
import { runOpenLoop, summarize, type OpenLoopResult, type ProgressEvent, type RequestSpec } from '@mailbench/loadgen';
import type { SmtpSink } from '@mailbench/smtp-sink';
import { forkApiServer, ServerStartError, type ApiServer } from './api-server.ts';
import type { CellResult, ServerSample } from './results.ts';
import { SCHEMA_VERSION } from './results.ts';
import type { Scenario, VariantName } from './scenario.ts';

export interface CellContext {
  runId: string;
  scenario: Scenario;
  mongoUri: string;
  mongo: MongoClient;
  sink: SmtpSink;
  signal: AbortSignal;
  onProgress: (event: ProgressEvent) => void;
  onServer: (server: ApiServer | null) => void;
}

export interface CellSpec {
  index: number;
  variant: VariantName;
  requests: number;
  repeat: number;
}

/** Variants whose contract is that every 201 is followed by its e-mail (in a run without faults). */
const PROMISES_DELIVERY: Record<VariantName, boolean> = {
  'no-email': false,
  inline: true,
  background: false,
  'worker-pool': false,
  outbox: true,
};

const PASSWORD = 'mailbench-password-1';

export function signupRequest(prefix: 'w' | 'u', i: number): RequestSpec {
  const name = `${prefix}${i}`;
  return {
    method: 'POST',
    path: '/api/users',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `mb_${name}`, email: `${name}@example.test`, password: PASSWORD }),
  };
}

export const BAD_INPUT_KINDS = ['malformed-json', 'oversized', 'wrong-content-type', 'invalid-fields', 'duplicate'] as const;
export type BadInputKind = (typeof BAD_INPUT_KINDS)[number];
export const BAD_INPUT_STATUS: Record<BadInputKind, number> = {
  'malformed-json': 400,
  oversized: 413,
  'wrong-content-type': 415,
  'invalid-fields': 400,
  duplicate: 409,
};

/** Which requests are bad under a bad-input share: every Nth (never the first), kinds in turn. */
export function badInputKind(i: number, share: number | undefined): BadInputKind | null {
  if (!share) return null;
  const every = Math.max(2, Math.round(1 / share));
  if (i % every !== every - 1) return null;
  return BAD_INPUT_KINDS[Math.floor(i / every) % BAD_INPUT_KINDS.length] as BadInputKind;
}

export function badSignupRequest(kind: BadInputKind, i: number): RequestSpec {
  const json = { 'content-type': 'application/json' };
  switch (kind) {
    case 'malformed-json':
      return { method: 'POST', path: '/api/users', headers: json, body: `{"username": "mb_u${i}", "email": "u${i}@example.test",` };
    case 'oversized':
      return { ...signupRequest('u', i), body: JSON.stringify({ username: `mb_u${i}`, email: `u${i}@example.test`, password: PASSWORD, padding: 'x'.repeat(20 * 1024) }) };
    case 'wrong-content-type':
      return { method: 'POST', path: '/api/users', headers: { 'content-type': 'text/plain' }, body: `username=mb_u${i}&email=u${i}@example.test` };
    case 'invalid-fields':
      return { method: 'POST', path: '/api/users', headers: json, body: JSON.stringify({ username: `U${i}!`, email: 'not-an-address', password: 'short' }) };
    case 'duplicate':
      // The previous request's user again: it is a valid sign-up scheduled just before.
      return signupRequest('u', i - 1);
  }
}

/** The request index a measured sign-up's e-mail was sent to, or null (warm-up or unknown). */
export function indexOfRecipient(address: string): number | null {
  const m = /^u(\d+)@example\.test$/.exec(address);
  return m ? Number(m[1]) : null;
}

export function dbNameFor(runId: string, spec: CellSpec): string {
  return `mb_${runId}_${spec.variant}_${spec.requests}_r${spec.repeat}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 60);
}

export function serverArgs(ctx: Pick<CellContext, 'scenario' | 'mongoUri' | 'sink'>, variant: VariantName, dbName: string): string[] {
  const s = ctx.scenario;
  return [
    '--variant', variant,
    '--port', '0',
    '--mongo-uri', ctx.mongoUri,
    '--db-name', dbName,
    '--smtp-host', ctx.sink.host,
    '--smtp-port', String(ctx.sink.port),
    '--transport', s.transport.mode,
    '--max-connections', String(s.transport.maxConnections),
    '--max-messages', String(s.transport.maxMessages),
    '--send-timeout', String(s.transport.sendTimeoutMs),
    '--hash-cost', String(s.hashCost),
    '--threads', String(s.workerPool.threads),
    '--concurrent-tasks', String(s.workerPool.concurrentTasksPerWorker),
    '--lease', String(s.outbox.leaseMs),
    '--poll', String(s.outbox.pollMs),
    '--drain-timeout', String(Math.max(1000, Math.round(s.drainTimeoutSec * 1000))),
  ];
}

async function readMetrics(url: string): Promise<Record<string, any> | null> {
  try {
    const res = await httpRequest(`${url}/metrics`, { headersTimeout: 2000, bodyTimeout: 2000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return null;
    }
    return (await res.body.json()) as Record<string, any>;
  } catch {
    return null;
  }
}

/**
 * Waits until `owed` distinct registrations reached the sink, or until nothing is left to come:
 * the server reports no e-mail queued or in flight and the sink has nothing in progress, for a
 * full second (e-mails the server gave up on, or lost, will not arrive). False on timeout.
 */
async function drain(sink: SmtpSink, url: () => string, owed: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let quietSince: number | null = null;
  while (Date.now() < deadline) {
    if (sink.stats().registrations >= owed) return true;
    const m = await readMetrics(url());
    const idle = m !== null && (m.emails?.queued ?? 1) === 0 && (m.emails?.inFlight ?? 1) === 0 && sink.stats().messages.inProgress === 0;
    if (idle) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= 1000) return true;
    } else {
      quietSince = null;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return sink.stats().registrations >= owed;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

async function countUsers(mongo: MongoClient, dbName: string): Promise<number> {
  return mongo.db(dbName).collection('users').countDocuments();
}

function emptyResult(ctx: CellContext, spec: CellSpec, startedAt: string): CellResult {
  const s = ctx.scenario;
  return {
    schemaVersion: SCHEMA_VERSION,
    kind: 'cell',
    runId: ctx.runId,
    variant: spec.variant,
    requests: spec.requests,
    repeat: spec.repeat,
    status: 'failed',
    error: null,
    serverStderrTail: null,
    startedAt,
    endedAt: startedAt,
    durationSec: s.durationSec,
    offeredRatePerSec: round2(spec.requests / s.durationSec),
    connection: s.connection,
    t0EpochMs: null,
    latencyMs: null,
    dispatchErrorMs: null,
    generatorBehind: false,
    throughputPerSec: 0,
    statusCounts: {},
    errorCounts: {},
    errors: 0,
    emails: {
      expected: 0,
      delivered: 0,
      lost: 0,
      duplicated: 0,
      failed: 0,
      retried: 0,
      unattributed: 0,
      rejectedBySink: 0,
      deliveryLagMs: null,
      backlogMax: 0,
      drainSec: null,
      drainTimedOut: false,
      serverCounters: null,
    },
    accounting: { usersInDb: 0, responses2xx: 0, warmupUsers: 0 },
    faults: null,
    server: { pid: null, series: [], shutdown: null },
    samples: null,
    valid: false,
    reasons: [],
  };
}

export async function runCell(ctx: CellContext, spec: CellSpec): Promise<CellResult> {
  const s = ctx.scenario;
  const faults = s.faults;
  const result = emptyResult(ctx, spec, new Date().toISOString());
  const dbName = dbNameFor(ctx.runId, spec);
  const sends = spec.variant !== 'no-email';
  const serverGone = new AbortController();
  const abort = AbortSignal.any([ctx.signal, serverGone.signal]);
  const intentional = new Set<ApiServer>();
  const timers: NodeJS.Timeout[] = [];
  let server: ApiServer | null = null;
  const args = serverArgs(ctx, spec.variant, dbName);
  /** Watches a server: an exit nobody asked for ends the cell as failed. */
  const watch = (srv: ApiServer) => {
    ctx.onServer(srv);
    void srv.exited.then(({ code, signal }) => {
      if (!intentional.has(srv)) {
        result.error = `the API server exited during the cell (code ${code}, signal ${signal})`;
        result.serverStderrTail = srv.stderrTail();
        serverGone.abort();
      }
    });
  };
  try {
    await ctx.mongo.db(dbName).dropDatabase();
    server = await forkApiServer(args);
    watch(server);
    result.server.pid = server.pid;

    // 1. Warm-up: not recorded; then wait for its e-mails so the sink is idle.
    ctx.sink.reset();
    if (s.warmup.requests > 0) {
      const warm = await runOpenLoop({
        baseUrl: server.url,
        count: s.warmup.requests,
        durationMs: s.warmup.durationSec * 1000,
        connection: s.connection,
        timeoutMs: s.timeoutSec * 1000,
        request: (i) => signupRequest('w', i),
        signal: abort,
      });
      const ok = warm.statusCounts['201'] ?? 0;
      if (sends && ok > 0) await drain(ctx.sink, () => server!.url, ok, s.drainTimeoutSec * 1000);
      await ctx.sink.waitForIdle({ quietMs: 300, timeoutMs: 30_000 }).catch(() => {});
    }
    result.accounting.warmupUsers = await countUsers(ctx.mongo, dbName);
    // Resets the server's since-last-read windows, and keeps the warm-up's e-mail counters to subtract.
    const baseline = ((await readMetrics(server.url))?.emails as Record<string, number> | undefined) ?? {};
    const warmServer = server;
    ctx.sink.reset();

    // 2. Measured open-loop schedule, with the server sampled every second and faults on their timers.
    const series: ServerSample[] = [];
    let t0Epoch = Date.now();
    const poll = setInterval(() => {
      const current = server;
      if (!current) return;
      void readMetrics(current.url).then((m) => {
        if (!m) return;
        const cpuMs = (m.cpu?.userMs ?? 0) + (m.cpu?.systemMs ?? 0);
        series.push({
          tSec: round2((Date.now() - t0Epoch) / 1000),
          eventLoopP99Ms: m.eventLoopDelayMs?.p99 ?? 0,
          eventLoopMaxMs: m.eventLoopDelayMs?.max ?? 0,
          cpuPercent: round2((cpuMs / Math.max(1, m.cpu?.sinceLastMs ?? 1000)) * 100),
          rssMiB: m.memory?.rssMiB ?? 0,
          heapUsedMiB: m.memory?.heapUsedMiB ?? 0,
          requestsInFlight: m.requests?.inFlight ?? 0,
          emailsQueued: m.emails?.queued ?? 0,
          emailsInFlight: m.emails?.inFlight ?? 0,
          emailsSent: m.emails?.sent ?? 0,
          emailsFailed: m.emails?.failed ?? 0,
          emailsRetried: m.emails?.retried ?? 0,
          sinkAccepted: ctx.sink.stats().messages.accepted,
        });
      });
    }, 1000);
    const at = (sec: number, fn: () => void | Promise<void>) => {
      timers.push(
        setTimeout(() => {
          void Promise.resolve(fn()).catch((err: unknown) => {
            result.error = `fault injection failed: ${(err as Error).message}`;
            serverGone.abort();
          });
        }, sec * 1000),
      );
    };
    const faultLog: NonNullable<CellResult['faults']> = { crash: null, smtpDown: null, badInput: null };
    if (faults.crash) {
      at(faults.crash.atSec, async () => {
        const victim = server!;
        intentional.add(victim);
        const killedAt = Date.now();
        victim.kill();
        await victim.exited;
        // Restart at once, on the same database and the same port, so the schedule's requests find it again.
        const restarted = await forkApiServer(args.map((a, k) => (args[k - 1] === '--port' ? String(victim.port) : a)));
        server = restarted;
        watch(restarted);
        faultLog.crash = { killedAtSec: round2((killedAt - t0Epoch) / 1000), downSec: round2((Date.now() - killedAt) / 1000), killedPid: victim.pid, restartedPid: restarted.pid };
      });
    }
    let smtpUpAtEpoch: number | null = null;
    if (faults.smtpDown) {
      const { fromSec, forSec } = faults.smtpDown;
      at(fromSec, () => ctx.sink.setAvailable(false, { dropConnections: true }));
      at(fromSec + forSec, () => {
        ctx.sink.setAvailable(true);
        smtpUpAtEpoch = Date.now();
      });
    }
    const share = faults.badInput?.share;
    let run: OpenLoopResult;
    try {
      t0Epoch = Date.now();
      run = await runOpenLoop({
        baseUrl: server.url,
        count: spec.requests,
        durationMs: s.durationSec * 1000,
        connection: s.connection,
        timeoutMs: s.timeoutSec * 1000,
        behindThresholdMs: s.behindThresholdMs,
        request: (i) => {
          const kind = badInputKind(i, share);
          return kind ? badSignupRequest(kind, i) : signupRequest('u', i);
        },
        onProgress: ctx.onProgress,
        signal: abort,
      });
      t0Epoch = run.t0EpochMs;
      for (const t of timers) clearTimeout(t);
      ctx.sink.setAvailable(true);
      if (faults.smtpDown && smtpUpAtEpoch === null) smtpUpAtEpoch = Date.now();

      // 3. Drain: every e-mail owed for a 201, bounded.
      const owed = new Set<number>();
      run.samples.forEach((x) => {
        if (x.status === 201) owed.add(badInputKind(x.i, share) === 'duplicate' ? x.i - 1 : x.i);
      });
      result.emails.expected = sends ? owed.size : 0;
      const scheduleEndEpoch = run.t0EpochMs + run.lastEndMs;
      if (sends && owed.size > 0) {
        result.emails.drainTimedOut = !(await drain(ctx.sink, () => server!.url, owed.size, s.drainTimeoutSec * 1000));
      }
      // A short grace period lets late duplicates show up.
      await new Promise((r) => setTimeout(r, sends ? 500 : 200));
      const firstAcceptance = new Map<number, number>();
      for (const r of ctx.sink.records()) {
        for (const to of r.recipients) {
          const i = indexOfRecipient(to);
          if (i !== null && !firstAcceptance.has(i)) firstAcceptance.set(i, r.acceptedAtMs);
        }
      }
      const lags: number[] = [];
      let deliveredOwed = 0;
      for (const i of owed) {
        const acceptedAt = firstAcceptance.get(i);
        if (acceptedAt === undefined) continue;
        deliveredOwed++;
        const sample = run.samples[i];
        if (sample) lags.push(acceptedAt - (run.t0EpochMs + sample.endMs));
      }
      const lastAcceptance = Math.max(...firstAcceptance.values(), Number.NEGATIVE_INFINITY);
      const stats = ctx.sink.stats();
      const final = await readMetrics(server.url);
      const counters = (final?.emails as Record<string, number> | undefined) ?? null;
      // Counters are per process: subtract the warm-up's, unless a crash replaced the process.
      const since = (key: string) => Math.max(0, (counters?.[key] ?? 0) - (server === warmServer ? (baseline[key] ?? 0) : 0));
      result.emails.serverCounters = counters;
      result.emails.failed = since('failed');
      result.emails.retried = since('retried');
      result.emails.delivered = stats.registrations;
      result.emails.duplicated = stats.duplicates;
      result.emails.unattributed = stats.unattributed;
      result.emails.rejectedBySink = stats.messages.rejected;
      // Silently lost: owed, never delivered, and not reported failed by the server.
      result.emails.lost = sends ? Math.max(0, owed.size - deliveredOwed - result.emails.failed) : 0;
      result.emails.deliveryLagMs = lags.length > 0 ? summarize(lags) : null;
      result.emails.drainSec =
        sends && owed.size > 0 && !result.emails.drainTimedOut ? round2(Math.max(0, lastAcceptance - scheduleEndEpoch) / 1000) : sends ? null : 0;
      if (faults.smtpDown && smtpUpAtEpoch !== null && Number.isFinite(lastAcceptance)) {
        faultLog.smtpDown = { fromSec: faults.smtpDown.fromSec, forSec: faults.smtpDown.forSec, recoverySec: round2(Math.max(0, lastAcceptance - smtpUpAtEpoch) / 1000) };
      }
      if (share) faultLog.badInput = tallyBadInput(run, share);
      if (faults.crash || faults.smtpDown || faults.badInput) result.faults = faultLog;
    } finally {
      clearInterval(poll);
      for (const t of timers) clearTimeout(t);
      ctx.sink.setAvailable(true);
    }
    result.server.series = series;
    result.emails.backlogMax = Math.max(0, ...series.map((p) => p.emailsQueued + p.emailsInFlight));
    result.accounting.usersInDb = (await countUsers(ctx.mongo, dbName)) - result.accounting.warmupUsers;

    // 4. Stop gracefully and keep the shutdown report.
    intentional.add(server);
    result.server.shutdown = await server.stop(s.drainTimeoutSec * 1000 + 15_000);

    fillFromRun(result, run, spec);
    result.status = 'ok';
  } catch (err) {
    if (err instanceof ServerStartError) {
      result.error = err.message;
      result.serverStderrTail = err.stderr;
    } else if (!result.error) {
      result.error = (err as Error).message;
    }
    if (server && !result.serverStderrTail) result.serverStderrTail = server.stderrTail();
  } finally {
    if (server) {
      intentional.add(server);
      server.kill();
      await server.exited;
    }
    ctx.onServer(null);
    await ctx.mongo.db(dbName).dropDatabase().catch(() => {});
  }
  result.endedAt = new Date().toISOString();
  judge(result, spec, s);
  return result;
}

function tallyBadInput(run: OpenLoopResult, share: number): NonNullable<NonNullable<CellResult['faults']>['badInput']> {
  const byKind: Record<string, { sent: number; expectedStatus: number; answeredAsExpected: number; statusCounts: Record<string, number> }> = {};
  let sent = 0;
  let asExpected = 0;
  for (const x of run.samples) {
    const kind = badInputKind(x.i, share);
    if (!kind) continue;
    sent++;
    const entry = (byKind[kind] ??= { sent: 0, expectedStatus: BAD_INPUT_STATUS[kind], answeredAsExpected: 0, statusCounts: {} });
    entry.sent++;
    const key = x.status === 0 ? (x.error ?? 'error') : String(x.status);
    entry.statusCounts[key] = (entry.statusCounts[key] ?? 0) + 1;
    if (x.status === entry.expectedStatus) {
      entry.answeredAsExpected++;
      asExpected++;
    }
  }
  return { share, sent, answeredAsExpected: asExpected, byKind };
}

function fillFromRun(result: CellResult, run: OpenLoopResult, spec: CellSpec): void {
  result.t0EpochMs = run.t0EpochMs;
  result.latencyMs = { fromIntended: run.latencyFromIntended, fromSend: run.latencyFromSend };
  result.dispatchErrorMs = run.dispatchError;
  result.generatorBehind = run.generatorBehind;
  result.throughputPerSec = round2(run.throughputPerSec);
  result.statusCounts = run.statusCounts;
  result.errorCounts = run.errorCounts;
  const ok = Object.entries(run.statusCounts)
    .filter(([code]) => code.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0);
  result.accounting.responses2xx = ok;
  result.errors = spec.requests - ok;
  result.samples = {
    intendedMs: run.samples.map((x) => round2(x.intendedMs)),
    sentMs: run.samples.map((x) => round2(x.sentMs)),
    endMs: run.samples.map((x) => round2(x.endMs)),
    status: run.samples.map((x) => x.status),
    error: run.samples.map((x) => x.error),
  };
}

/** valid: false, with reasons, whenever the accounting does not add up. */
export function judge(result: CellResult, spec: CellSpec, scenario: Pick<Scenario, 'faults'>): void {
  const reasons: string[] = [];
  const crash = Boolean(scenario.faults.crash);
  if (result.status === 'failed') reasons.push(`cell failed: ${result.error ?? 'unknown error'}`);
  else {
    if (result.generatorBehind) {
      reasons.push(`generator behind schedule: dispatch error p99 ${result.dispatchErrorMs?.p99} ms`);
    }
    const stray = result.accounting.usersInDb - result.accounting.responses2xx;
    // A crash leaves users whose reply never left the killed process: counted, expected.
    if (stray !== 0 && !(crash && stray > 0)) {
      reasons.push(
        `${result.accounting.usersInDb} users stored but ${result.accounting.responses2xx} 2xx responses` +
          (stray > 0 ? ' (sign-ups whose reply timed out or failed on the way)' : ''),
      );
    }
    if (PROMISES_DELIVERY[spec.variant] && result.emails.lost > 0) {
      reasons.push(`${result.emails.lost} e-mails silently lost by a variant that promises delivery`);
    }
    if (spec.variant !== 'outbox' && result.emails.duplicated > 0) {
      reasons.push(`${result.emails.duplicated} duplicate e-mails from a variant that sends each once`);
    }
    if (spec.variant === 'no-email' && result.emails.delivered > 0) {
      reasons.push(`${result.emails.delivered} e-mails from the no-email baseline`);
    }
    const bad = result.faults?.badInput;
    if (bad && bad.answeredAsExpected !== bad.sent) {
      reasons.push(`${bad.sent - bad.answeredAsExpected} of ${bad.sent} bad requests were not answered with their 4xx`);
    }
  }
  result.reasons = reasons;
  result.valid = reasons.length === 0;
}
