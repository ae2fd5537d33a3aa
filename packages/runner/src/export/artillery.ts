/** --export artillery: the scenario's schedule as an Artillery script and its processor. */
import { PASSWORD } from '../config/requests.ts';
import type { Scenario } from '../shapes/scenario.ts';
import { type ExportSchedule, describeSchedule, fmt } from './schedules.ts';

// ---------------------------------------------------------------- Artillery

/** Artillery's processor: each virtual user (one sign-up) gets the next number under a tag made at start. */
export function artilleryProcessor(): string {
  return `// mailbench: one sign-up per Artillery virtual user, unique across runs and workers.
'use strict';
const tag = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
let next = 0;

module.exports = {
  mailbenchSignup(context, events, done) {
    const i = next++;
    context.vars.username = 'mb_' + tag + '_u' + i;
    context.vars.email = 'u' + i + '.' + tag + '@example.test';
    return done();
  },
};
`;
}

/** Constant stages become arrivalCount phases (exact counts); ramps use arrivalRate/rampTo (Artillery's own ramp). */
function artilleryPhases(s: ExportSchedule): string[] {
  const q = JSON.stringify;
  if (!s.stages)
    return [
      `    - name: ${q(describeSchedule(s))}`,
      `      duration: ${fmt(s.durationSec)}`,
      `      arrivalCount: ${s.count}`,
    ];
  return s.stages.flatMap((st, k) =>
    'rate' in st
      ? [
          `    - name: ${q(`stage ${k + 1}`)}`,
          `      duration: ${fmt(st.durationSec)}`,
          `      arrivalCount: ${Math.round(st.rate * st.durationSec)}`,
        ]
      : [
          `    - name: ${q(`stage ${k + 1} (ramp)`)}`,
          `      duration: ${fmt(st.durationSec)}`,
          `      arrivalRate: ${fmt(st.from)}`,
          `      rampTo: ${fmt(st.to)}`,
        ],
  );
}

export function artilleryScript(
  s: ExportSchedule,
  scenario: Pick<Scenario, 'timeoutSec'>,
  targetUrl: string,
  processorFile: string,
  header: string[],
): string {
  const q = JSON.stringify;
  const ramps = s.stages?.some((st) => !('rate' in st)) ?? false;
  return [
    ...header.map((l) => `# ${l}`),
    ...(ramps
      ? [
          "# Ramps use Artillery's arrivalRate/rampTo, which steps the rate each second: counts differ slightly from mailbench's exact schedule.",
        ]
      : []),
    'config:',
    `  target: ${q(targetUrl)}`,
    `  processor: ${q(`./${processorFile}`)}`,
    '  http:',
    `    timeout: ${scenario.timeoutSec}`,
    '  phases:',
    ...artilleryPhases(s),
    'scenarios:',
    '  - name: sign-up',
    '    flow:',
    '      - function: mailbenchSignup',
    '      - post:',
    '          url: "/api/users"',
    '          json:',
    '            username: "{{ username }}"',
    '            email: "{{ email }}"',
    `            password: ${q(PASSWORD)}`,
    '',
  ].join('\n');
}
