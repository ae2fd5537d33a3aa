/** Server-side measurements read by the runner every second through GET /metrics. */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MailCounters, MetricsSnapshot } from './contract/messages.ts';

export class Metrics {
  private readonly loop: IntervalHistogram;
  private lastCpu = process.cpuUsage();
  private lastReadMs = performance.now();
  requestsTotal = 0;
  requestsInFlight = 0;

  constructor() {
    this.loop = monitorEventLoopDelay({ resolution: 10 });
    this.loop.enable();
  }

  /**
   * A snapshot; event-loop delay and CPU cover the window since the last reset. Only the
   * once-a-second sampler resets it (GET /metrics?reset=window): other readers, such as the
   * runner's drain polling every 200 ms, must not cut the sampler's windows short.
   */
  read(emails: MailCounters, resetWindow = true): MetricsSnapshot {
    // An empty window (a process just started) has a NaN mean, which JSON would turn into null:
    // report 0.
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.round((ns / 1e6) * 100) / 100 : 0);
    const cpu = process.cpuUsage(this.lastCpu);
    const now = performance.now();
    const sinceLastMs = now - this.lastReadMs;
    if (resetWindow) {
      this.lastCpu = process.cpuUsage();
      this.lastReadMs = now;
    }
    const mem = process.memoryUsage();
    const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
    const snapshot: MetricsSnapshot = {
      atMs: Date.now(),
      uptimeSec: Math.round(process.uptime() * 10) / 10,
      eventLoopDelayMs: {
        p50: ms(this.loop.percentile(50)),
        p99: ms(this.loop.percentile(99)),
        max: ms(this.loop.max),
        mean: ms(this.loop.mean),
      },
      cpu: {
        userMs: Math.round(cpu.user / 1000),
        systemMs: Math.round(cpu.system / 1000),
        sinceLastMs: Math.round(sinceLastMs),
      },
      memory: {
        rssMiB: mib(mem.rss),
        heapUsedMiB: mib(mem.heapUsed),
        heapTotalMiB: mib(mem.heapTotal),
      },
      requests: { total: this.requestsTotal, inFlight: this.requestsInFlight },
      emails,
    };
    if (resetWindow) this.loop.reset();
    return snapshot;
  }

  close(): void {
    this.loop.disable();
  }
}
