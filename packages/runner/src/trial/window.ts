/**
 * What runs beside a cell's measured schedule: the server sampled every second (until the drain
 * ends, so a backlog is seen draining), and the scenario's faults on their timers.
 */
import type { SmtpSink } from '@mailbench/smtp-sink';
import type { MetricsResponse } from '@mailbench/target-api/contract';
import type { CellTarget } from '../targets/cell-server.ts';
import { round2 } from '../shapes/numbers.ts';
import type { Faults } from '../shapes/scenario.ts';
import type { CellResult, ServerSample } from '../shapes/results.ts';

export type FaultLog = NonNullable<CellResult['faults']>;

export interface CellWindow {
  series: ServerSample[];
  faultLog: FaultLog;
  /**
   * The measured schedule starts at t0 (epoch ms): the series and the log count from it, and the
   * faults are armed from it.
   */
  start(t0EpochMs: number): void;
  /**
   * The schedule's real start, once the generator reports it (times in the series and the log count
   * from it).
   */
  setT0(epochMs: number): void;
  /** When the SMTP outage ended (epoch ms), or null. */
  smtpUpAtEpochMs(): number | null;
  /** The schedule is over: cancel faults not yet fired and make the sink available again. */
  endFaults(): void;
  /** Stops sampling; throws if the server's /metrics broke the contract meanwhile. */
  close(): void;
}

export function openCellWindow(
  server: CellTarget,
  sink: SmtpSink,
  faults: Faults,
  sample = true,
): CellWindow {
  let t0 = Date.now();
  const series: ServerSample[] = [];
  let contractError: Error | null = null;
  // A target the harness does not own has no metrics to sample: its series stays empty.
  const poll = setInterval(() => {
    if (!server.owned || !sample) return;
    server.metrics(true).then(
      (m) => {
        if (m)
          series.push(
            sampleOf(m, round2((Date.now() - t0) / 1000), sink.stats().messages.accepted),
          );
      },
      (err: Error) => (contractError ??= err),
    );
  }, 1000);
  const clock = faultClock(server, sink, faults, () => t0);
  return {
    series,
    faultLog: clock.log,
    start(epochMs) {
      t0 = epochMs;
      clock.arm();
    },
    setT0: (epochMs) => (t0 = epochMs),
    smtpUpAtEpochMs: clock.smtpUpAtEpochMs,
    endFaults: clock.end,
    close() {
      clearInterval(poll);
      clock.end();
      if (contractError) throw contractError;
    },
  };
}

function sampleOf(m: MetricsResponse, tSec: number, sinkAccepted: number): ServerSample {
  return {
    tSec,
    eventLoopP99Ms: m.eventLoopDelayMs.p99,
    eventLoopMaxMs: m.eventLoopDelayMs.max,
    cpuPercent: round2(((m.cpu.userMs + m.cpu.systemMs) / Math.max(1, m.cpu.sinceLastMs)) * 100),
    rssMiB: m.memory.rssMiB,
    heapUsedMiB: m.memory.heapUsedMiB,
    requestsInFlight: m.requests.inFlight,
    emailsQueued: m.emails.queued,
    emailsInFlight: m.emails.inFlight,
    emailsSent: m.emails.sent,
    emailsFailed: m.emails.failed,
    emailsRetried: m.emails.retried,
    sinkAccepted,
  };
}

/**
 * The crash and SMTP-outage timers, armed once the schedule has started, at their times into it
 * (a generator slow to start does not move a fault before the load); a fault that cannot be
 * carried out fails the cell.
 */
function faultClock(server: CellTarget, sink: SmtpSink, faults: Faults, t0: () => number) {
  const timers: NodeJS.Timeout[] = [];
  const log: FaultLog = { crash: null, smtpDown: null, badInput: null };
  let smtpUpAt: number | null = null;
  let armed = false;
  const at = (sec: number, fn: () => void | Promise<void>) => {
    timers.push(
      setTimeout(
        () => {
          void Promise.resolve(fn()).catch((err: unknown) =>
            server.fail(`fault injection failed: ${(err as Error).message}`),
          );
        },
        Math.max(0, t0() + sec * 1000 - Date.now()),
      ),
    );
  };
  const arm = () => {
    if (armed) return;
    armed = true;
    if (faults.crash) {
      at(faults.crash.atSec, async () => {
        const crash = await server.crash();
        log.crash = {
          killedAtSec: round2((crash.killedAtEpochMs - t0()) / 1000),
          downSec: round2(crash.downSec),
          killedPid: crash.killedPid,
          restartedPid: crash.restartedPid,
        };
      });
    }
    if (faults.smtpDown) {
      const { fromSec, forSec } = faults.smtpDown;
      at(fromSec, () => sink.setAvailable(false, { dropConnections: true }));
      at(fromSec + forSec, () => {
        sink.setAvailable(true);
        smtpUpAt = Date.now();
      });
    }
  };
  return {
    log,
    arm,
    smtpUpAtEpochMs: () => smtpUpAt,
    end() {
      armed = true; // a fault not yet armed never fires
      for (const t of timers) clearTimeout(t);
      timers.length = 0;
      sink.setAvailable(true);
      if (faults.smtpDown && smtpUpAt === null) smtpUpAt = Date.now();
    },
  };
}
