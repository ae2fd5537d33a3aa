/**
 * The machine's last closed-loop capacity probe under the same conditions, read from the runs in
 * the results folder, and the warning a scenario gets when it offers more than that before any
 * time is spent on it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Scenario } from '../shapes/scenario.ts';

export interface KnownCapacity {
  runId: string;
  /** The slowest variant of that probe, and what it carried. */
  variant: string;
  perSec: number;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * The newest run in `outDir` made on this host with the same hash cost that probed capacity: its
 * slowest variant's throughput. Null when there is none (or the folder cannot be read).
 */
export function lastCapacity(
  outDir: string,
  conditions: { hashCost: number; hostname: string },
): KnownCapacity | null {
  let names: string[];
  try {
    names = readdirSync(outDir).sort().reverse().slice(0, 200);
  } catch {
    return null;
  }
  for (const name of names) {
    const run = readJson(path.join(outDir, name, 'run.json')) as {
      runId?: string;
      machine?: { hostname?: string };
      scenario?: { hashCost?: number };
      capacity?: string[];
    } | null;
    if (!run?.capacity?.length || run.machine?.hostname !== conditions.hostname) continue;
    if (run.scenario?.hashCost !== conditions.hashCost) continue;
    const probes = run.capacity
      .map((f) => readJson(path.join(outDir, name, path.normalize(f).replace(/^(\.\.[/\\])+/, ''))))
      .filter((p) => p?.status === 'ok' && typeof p.requestsPerSec === 'number') as Array<{
      variant: string;
      requestsPerSec: number;
    }>;
    if (probes.length === 0) continue;
    const slowest = probes.sort((a, b) => a.requestsPerSec - b.requestsPerSec)[0]!;
    return { runId: run.runId ?? name, variant: slowest.variant, perSec: slowest.requestsPerSec };
  }
  return null;
}

/** The highest arrival rate a scenario's cells offer, per second (null: it runs no cells). */
export function peakRate(s: Pick<Scenario, 'stages' | 'requests' | 'durationSec'>): number | null {
  if (s.stages)
    return Math.max(...s.stages.map((st) => ('rate' in st ? st.rate : Math.max(st.from, st.to))));
  return s.requests.length > 0 ? Math.max(...s.requests) / s.durationSec : null;
}

/**
 * The warning, when the scenario's peak is above the last capacity known here; else null. The
 * results folder is read (`known`) only for a scenario whose cells offer a rate to compare.
 */
export function overloadWarning(
  scenario: Scenario,
  known: () => KnownCapacity | null,
): string | null {
  const peak = peakRate(scenario);
  if (peak === null || scenario.target) return null;
  const probe = known();
  if (probe === null || peak <= probe.perSec) return null;
  return `this scenario offers up to ${peak.toFixed(1)} sign-ups/s, more than the ${probe.perSec.toFixed(1)}/s this machine's last capacity probe carried (${probe.variant}, run ${probe.runId}, same hash cost): cells above it measure a growing queue more than the API. Lower --requests, lengthen --duration, or lower --hash-cost to stay below it.`;
}
