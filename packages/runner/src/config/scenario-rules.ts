/** The rules a scenario must keep across its fields, checked after the flags are applied too. */
import type { Scenario } from '../shapes/scenario.ts';
import { validateStages } from '@mailbench/loadgen/schedule';
import { UsageError } from '../shapes/errors.ts';
import { isReference } from './references.ts';
import { sweepProblems } from './factors.ts';

/** Rules across fields, which the schema cannot state. */
export function checkSemantics(scenario: Scenario, file: string): void {
  const problems: string[] = [];
  if (scenario.smtp.tempFailRate + scenario.smtp.permFailRate > 1)
    problems.push('smtp: tempFailRate + permFailRate must not exceed 1');
  const { crash, smtpDown } = scenario.faults;
  if (crash && crash.atSec >= scenario.durationSec) {
    problems.push(
      `faults.crash.atSec (${crash.atSec}) must fall inside the ${scenario.durationSec} s window`,
    );
  }
  if (smtpDown && smtpDown.fromSec >= scenario.durationSec) {
    problems.push(
      `faults.smtpDown.fromSec (${smtpDown.fromSec}) must fall inside the ${scenario.durationSec} s window`,
    );
  }
  if (scenario.aaControl && !scenario.variants.includes(scenario.aaControl))
    problems.push(
      `aaControl: "${scenario.aaControl}" is not among the variants (${scenario.variants.join(', ')})`,
    );
  if (
    scenario.requests.length === 0 &&
    !scenario.stages &&
    !scenario.capacity.enabled &&
    !scenario.breakingPoint.enabled
  ) {
    problems.push(
      'requests: empty, and neither capacity nor breakingPoint is enabled: nothing to run',
    );
  }
  if (scenario.stages) {
    try {
      validateStages(scenario.stages);
    } catch (err) {
      problems.push(`stages: ${(err as Error).message}`);
    }
  }
  if (scenario.engine === 'jmeter') {
    if (scenario.stages)
      problems.push(
        "engine jmeter: JMeter sends the original's plan (N threads over the window); a scenario with stages needs mailbench's generator",
      );
    if (scenario.connection !== 'per-request')
      problems.push(
        'engine jmeter: a thread sends one request on a connection of its own; use connection "per-request"',
      );
    if (scenario.breakingPoint.enabled)
      problems.push("engine jmeter: the breaking-point search runs mailbench's generator");
    if (scenario.faults.badInput)
      problems.push("engine jmeter: bad input needs mailbench's generator");
  }
  problems.push(
    ...sweepProblems(scenario),
    ...targetProblems(scenario),
    ...referenceProblems(scenario),
  );
  if (problems.length > 0) throw invalidScenario(file, problems);
}

/** What cannot run against an API the harness did not start: whatever needs its process or its settings. */
export function targetProblems(
  scenario: Pick<Scenario, 'target' | 'faults' | 'capacity' | 'sweep'>,
): string[] {
  if (!scenario.target) return [];
  const problems: string[] = [];
  if (scenario.faults.crash)
    problems.push(
      'faults.crash kills and restarts the API process: with --target the harness owns no process to crash; choose a scenario without it',
    );
  if (scenario.capacity.enabled)
    problems.push(
      'capacity: the closed-loop probe starts the built-in API; it does not run against --target',
    );
  if (scenario.sweep)
    problems.push(
      `sweep: ${scenario.sweep.factor} is a setting of the built-in API; a --target has its own`,
    );
  return problems;
}

/** What the reference targets cannot do: they are not mailbench's API (no crash-restart, no settings of its own but reference.*). */
export function referenceProblems(
  scenario: Pick<Scenario, 'variants' | 'faults' | 'sweep' | 'breakingPoint'>,
): string[] {
  const refs = scenario.variants.filter(isReference);
  if (refs.length === 0) return [];
  const problems: string[] = [];
  const names = refs.join(', ');
  if (scenario.faults.crash)
    problems.push(`faults.crash restarts mailbench's own API; ${names} cannot be crashed that way`);
  if (scenario.sweep && scenario.sweep.factor !== 'smtpLatencyMs')
    problems.push(
      `sweep: ${scenario.sweep.factor} is a setting of the built-in API; ${names} ${refs.length === 1 ? 'has' : 'have'} only the reference.* settings (smtpLatencyMs can be swept for everything)`,
    );
  if (scenario.breakingPoint.enabled)
    problems.push(
      `breakingPoint: the search runs the built-in variants; for ${names}, use the capacity probe (capacity.enabled)`,
    );
  return problems;
}
export function invalidScenario(file: string, problems: string[]): UsageError {
  return new UsageError(
    'ERR_SCENARIO_INVALID',
    `scenario ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
}
