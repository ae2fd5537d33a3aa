/** The scenario's schedules as the export writes them: one per request count (or the load profile), described in a comment line. */
import { stagesCount, type RateStage } from '@mailbench/loadgen/schedule';
import type { Scenario } from '../shapes/scenario.ts';

/** One schedule of the scenario: a request count over the window, or its stages. */
export interface ExportSchedule {
  /** Requests in all. */
  count: number;
  durationSec: number;
  stages: RateStage[] | null;
}

export function exportSchedules(
  scenario: Pick<Scenario, 'requests' | 'durationSec' | 'stages'>,
): ExportSchedule[] {
  if (scenario.stages)
    return [
      {
        count: stagesCount(scenario.stages),
        durationSec: scenario.durationSec,
        stages: scenario.stages,
      },
    ];
  return scenario.requests.map((count) => ({
    count,
    durationSec: scenario.durationSec,
    stages: null,
  }));
}

export function describeSchedule(s: ExportSchedule): string {
  if (!s.stages)
    return `${s.count} sign-ups evenly over ${fmt(s.durationSec)} s (${fmt(s.count / s.durationSec)}/s)`;
  const parts = s.stages.map((st) =>
    'rate' in st
      ? `${fmt(st.rate)}/s for ${fmt(st.durationSec)} s`
      : `${fmt(st.from)}→${fmt(st.to)}/s over ${fmt(st.durationSec)} s`,
  );
  return `${s.count} sign-ups in stages: ${parts.join(', ')}`;
}

export function fmt(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}
