/** --export k6: the scenario's schedule as a k6 script (arrival-rate executors). */
import { PASSWORD } from '../config/requests.ts';
import type { Scenario } from '../shapes/scenario.ts';
import { type ExportSchedule, fmt } from './schedules.ts';

// ---------------------------------------------------------------- k6

/** k6's arrival-rate executors: constant for an even schedule, ramping (with 0 s jumps) for stages. */
function k6Scenario(s: ExportSchedule, vus: number): string {
  if (!s.stages) {
    return `    signups: {
      executor: 'constant-arrival-rate',
      rate: ${s.count},
      timeUnit: '${fmt(s.durationSec)}s',
      duration: '${fmt(s.durationSec)}s',
      preAllocatedVUs: ${vus},
    },`;
  }
  const stages: string[] = [];
  let current = 'rate' in s.stages[0]! ? s.stages[0].rate : s.stages[0]!.from;
  for (const st of s.stages) {
    const from = 'rate' in st ? st.rate : st.from;
    const to = 'rate' in st ? st.rate : st.to;
    if (from !== current) stages.push(`        { target: ${fmt(from)}, duration: '0s' },`);
    stages.push(`        { target: ${fmt(to)}, duration: '${fmt(st.durationSec)}s' },`);
    current = to;
  }
  const first = s.stages[0]!;
  return `    signups: {
      executor: 'ramping-arrival-rate',
      startRate: ${fmt('rate' in first ? first.rate : first.from)},
      timeUnit: '1s',
      preAllocatedVUs: ${vus},
      stages: [
${stages.join('\n')}
      ],
    },`;
}

export function k6Script(
  s: ExportSchedule,
  scenario: Pick<Scenario, 'timeoutSec'>,
  targetUrl: string,
  header: string[],
): string {
  const peak = s.stages
    ? Math.max(...s.stages.map((st) => ('rate' in st ? st.rate : Math.max(st.from, st.to))))
    : s.count / s.durationSec;
  // Enough VUs for the peak rate with every request taking the whole timeout, at least 10.
  const vus = Math.max(10, Math.ceil(peak * scenario.timeoutSec));
  return `${header.map((l) => `// ${l}`).join('\n')}
import http from 'k6/http';
import exec from 'k6/execution';

const BASE = __ENV.TARGET || ${JSON.stringify(targetUrl)};
// Made once per VU at init: with the iteration number it makes every sign-up unique across runs.
const tag = Date.now().toString(36);

export const options = {
  scenarios: {
${k6Scenario(s, vus)}
  },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const body = JSON.stringify({ username: \`mb_\${tag}_u\${i}\`, email: \`u\${i}.\${tag}@example.test\`, password: ${JSON.stringify(PASSWORD)} });
  http.post(\`\${BASE}/api/users\`, body, { headers: { 'Content-Type': 'application/json' }, timeout: '${scenario.timeoutSec}s' });
}
`;
}
