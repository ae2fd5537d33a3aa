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

  /** A snapshot since the previous read (event-loop delay and CPU reset on every read). */
  read(emails: MailCounters): MetricsSnapshot {
    // An empty window (a process just started) has a NaN mean, which JSON would turn into null: report 0.
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.round((ns / 1e6) * 100) / 100 : 0);
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    const now = performance.now();
    const sinceLastMs = now - this.lastReadMs;
    this.lastReadMs = now;
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
      cpu: { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000), sinceLastMs: Math.round(sinceLastMs) },
      memory: { rssMiB: mib(mem.rss), heapUsedMiB: mib(mem.heapUsed), heapTotalMiB: mib(mem.heapTotal) },
      requests: { total: this.requestsTotal, inFlight: this.requestsInFlight },
      emails,
    };
    this.loop.reset();
    return snapshot;
  }

  close(): void {
    this.loop.disable();
  }
}
