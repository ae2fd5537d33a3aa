/**
 * --export ENGINE: the scenario's schedule as a script for an engine users already run, so the
 * load can leave this machine. Each script sends the same sign-up (POST /api/users, JSON body,
 * a user of its own per request, unique across runs through a tag made when the script starts)
 * on the same schedule: N requests evenly over the window, or the scenario's stages. What an
 * engine cannot express exactly is said in the script's header.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PASSWORD } from '../config/requests.ts';
import { safeFileName } from '../results/files.ts';
import type { Scenario } from '../shapes/scenario.ts';
import { k6Script } from './k6.ts';
import { artilleryProcessor, artilleryScript } from './artillery.ts';
import { describeSchedule, exportSchedules, fmt, type ExportSchedule } from './schedules.ts';

export const EXPORT_ENGINES = ['artillery', 'jmeter', 'k6'] as const;
export type ExportEngine = (typeof EXPORT_ENGINES)[number];

export const DEFAULT_EXPORT_TARGET = 'http://127.0.0.1:3000';

export interface ExportedFile {
  file: string;
  engine: ExportEngine;
  schedule: ExportSchedule;
}

/** How to run each engine's script on more than one machine. */
export const DISTRIBUTED_NOTES: Record<ExportEngine, string[]> = {
  artillery: [
    'Run here:        artillery run FILE',
    'Distributed:     artillery run-fargate FILE --count K (AWS ECS Fargate) or artillery run-lambda FILE --count K;',
    '                 each of the K workers runs the whole phase, so divide arrivalCount / arrivalRate by K first.',
  ],
  jmeter: [
    'Run here:        jmeter -n -t FILE -l results.jtl',
    'Distributed:     jmeter -n -t FILE -R host1,host2 -l results.jtl (jmeter-server running on each host);',
    '                 every remote server runs every thread group, so divide each ThreadGroup.num_threads by the',
    '                 number of servers (the ramp-up stays: each server then sends its share at the same spacing).',
  ],
  k6: [
    'Run here:        k6 run FILE',
    'Distributed:     k6-operator TestRun with spec.parallelism: K; k6 splits the arrival rate across the K',
    '                 instances itself (execution segments), so the script needs no change.',
  ],
};

/**
 * A line for a generated script's comment: line breaks of any kind (JavaScript ends a `//` comment
 * at U+2028 too) and other control characters become spaces, so nothing written into a comment
 * (a scenario's name comes from a file name) can put code on a line of its own.
 */
export function commentSafe(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, ' ');
}

/**
 * The file name of an exported script: <scenario>[-<requests>].<engine extension>, the name reduced
 * to safe characters.
 */
export function exportFileName(
  scenarioName: string,
  engine: ExportEngine,
  schedule: ExportSchedule,
  several: boolean,
): string {
  const name = safeFileName(scenarioName);
  const base = several ? `${name}-${schedule.count}` : name;
  return `${base}.${{ artillery: 'artillery.yml', jmeter: 'jmx', k6: 'k6.js' }[engine]}`;
}

/**
 * Writes one script per schedule (and Artillery's processor beside its script); returns what it
 * wrote.
 */
export function writeExport(
  scenario: Scenario,
  engine: ExportEngine,
  targetUrl: string,
  outDir: string,
): ExportedFile[] {
  const schedules = exportSchedules(scenario);
  const written: ExportedFile[] = [];
  for (const schedule of schedules) {
    const file = path.join(
      outDir,
      exportFileName(scenario.name, engine, schedule, schedules.length > 1),
    );
    const header = [
      `mailbench scenario "${scenario.name}", exported for ${engine}: ${describeSchedule(schedule)}`,
      `against ${targetUrl}, per-request timeout ${scenario.timeoutSec} s.`,
      ...DISTRIBUTED_NOTES[engine].map((l) => l.replaceAll('FILE', path.basename(file))),
    ].map(commentSafe);
    if (engine === 'artillery') {
      const processor = file.replace(/\.artillery\.yml$/, '.artillery-signup.cjs');
      writeFileSync(processor, artilleryProcessor());
      writeFileSync(
        file,
        artilleryScript(schedule, scenario, targetUrl, path.basename(processor), header),
      );
    } else if (engine === 'jmeter') {
      writeFileSync(file, jmeterPlan(schedule, scenario, targetUrl, header));
    } else {
      writeFileSync(file, k6Script(schedule, scenario, targetUrl, header));
    }
    written.push({ file, engine, schedule });
  }
  return written;
}

// ---------------------------------------------------------------- JMeter

function xml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

/**
 * The thread groups of a schedule: each one sends `threads` requests, one per thread, started
 * evenly over `rampSec` after `delaySec` (JMeter's classic plan: N threads, ramp-up T, loop 1).
 * A constant stage is one group; a ramp is one group per second of it, with that second's count.
 */
export function jmeterGroups(
  s: ExportSchedule,
): Array<{ threads: number; rampSec: number; delaySec: number }> {
  if (!s.stages) return [{ threads: s.count, rampSec: s.durationSec, delaySec: 0 }];
  const groups: Array<{ threads: number; rampSec: number; delaySec: number }> = [];
  let at = 0;
  for (const st of s.stages) {
    if ('rate' in st) {
      groups.push({
        threads: Math.round(st.rate * st.durationSec),
        rampSec: st.durationSec,
        delaySec: at,
      });
    } else {
      // Λ(t) over the ramp: from·t + (to − from)·t²/(2D); each second gets Λ(k+1) − Λ(k), rounded
      // so the total holds.
      const lambda = (t: number) =>
        st.from * t + ((st.to - st.from) * t * t) / (2 * st.durationSec);
      for (let k = 0; k < Math.ceil(st.durationSec); k++) {
        const end = Math.min(st.durationSec, k + 1);
        const threads = Math.round(lambda(end)) - Math.round(lambda(k));
        if (threads > 0) groups.push({ threads, rampSec: end - k, delaySec: at + k });
      }
    }
    at += st.durationSec;
  }
  return groups.filter((g) => g.threads > 0);
}

/**
 * The exported plan's sign-up of thread group k: a user per thread, unique through the tag made
 * when the plan starts.
 */
function exportedBody(k: number): string {
  return `{"username":"mb_\${tag}g${k}_u\${__threadNum}","email":"u\${__threadNum}.\${tag}g${k}@example.test","password":"${PASSWORD}"}`;
}

function jmeterThreadGroup(
  k: number,
  g: { threads: number; rampSec: number; delaySec: number },
  url: URL,
  timeoutMs: number,
  body: string,
): string {
  // The scheduler's duration only bounds the group: ramp, delay and the last request's timeout.
  const duration = Math.ceil(g.rampSec + timeoutMs / 1000 + 5);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `      <ThreadGroup guiclass="ThreadGroupGui" testclass="ThreadGroup" testname="sign-ups ${k}: ${g.threads} over ${fmt(g.rampSec)} s from ${fmt(g.delaySec)} s" enabled="true">
        <stringProp name="ThreadGroup.on_sample_error">continue</stringProp>
        <elementProp name="ThreadGroup.main_controller" elementType="LoopController" guiclass="LoopControlPanel" testclass="LoopController" testname="Loop Controller" enabled="true">
          <boolProp name="LoopController.continue_forever">false</boolProp>
          <stringProp name="LoopController.loops">1</stringProp>
        </elementProp>
        <stringProp name="ThreadGroup.num_threads">${g.threads}</stringProp>
        <stringProp name="ThreadGroup.ramp_time">${fmt(g.rampSec)}</stringProp>
        <boolProp name="ThreadGroup.scheduler">true</boolProp>
        <stringProp name="ThreadGroup.duration">${duration}</stringProp>
        <stringProp name="ThreadGroup.delay">${fmt(g.delaySec)}</stringProp>
        <boolProp name="ThreadGroup.delayedStart">true</boolProp>
      </ThreadGroup>
      <hashTree>
        <HTTPSamplerProxy guiclass="HttpTestSampleGui" testclass="HTTPSamplerProxy" testname="POST /api/users" enabled="true">
          <boolProp name="HTTPSampler.postBodyRaw">true</boolProp>
          <elementProp name="HTTPsampler.Arguments" elementType="Arguments">
            <collectionProp name="Arguments.arguments">
              <elementProp name="" elementType="HTTPArgument">
                <boolProp name="HTTPArgument.always_encode">false</boolProp>
                <stringProp name="Argument.value">${xml(body)}</stringProp>
                <stringProp name="Argument.metadata">=</stringProp>
              </elementProp>
            </collectionProp>
          </elementProp>
          <stringProp name="HTTPSampler.domain">${xml(url.hostname)}</stringProp>
          <stringProp name="HTTPSampler.port">${port}</stringProp>
          <stringProp name="HTTPSampler.protocol">${url.protocol.slice(0, -1)}</stringProp>
          <stringProp name="HTTPSampler.path">${xml(`${url.pathname.replace(/\/$/, '')}/api/users`)}</stringProp>
          <stringProp name="HTTPSampler.method">POST</stringProp>
          <boolProp name="HTTPSampler.follow_redirects">false</boolProp>
          <boolProp name="HTTPSampler.use_keepalive">false</boolProp>
          <stringProp name="HTTPSampler.connect_timeout">${timeoutMs}</stringProp>
          <stringProp name="HTTPSampler.response_timeout">${timeoutMs}</stringProp>
        </HTTPSamplerProxy>
        <hashTree/>
      </hashTree>
`;
}

/**
 * JMeter's plan of a schedule; `body` gives thread group k's request body (JMeter functions
 * allowed), the exported one by default.
 */
export function jmeterPlan(
  s: ExportSchedule,
  scenario: Pick<Scenario, 'timeoutSec'>,
  targetUrl: string,
  header: string[],
  body: (k: number) => string = exportedBody,
): string {
  const url = new URL(targetUrl);
  const groups = jmeterGroups(s);
  const ramps = s.stages?.some((st) => !('rate' in st)) ?? false;
  const notes = [
    ...header,
    ...(ramps
      ? [
          "Ramps are one thread group per second of the ramp, each with that second's count (rounded, total kept).",
        ]
      : []),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<!--
${notes.map((l) => `  ${xml(l).replaceAll('--', '- -')}`).join('\n')}
-->
<jmeterTestPlan version="1.2" properties="2.8" jmeter="2.13">
  <hashTree>
    <TestPlan guiclass="TestPlanGui" testclass="TestPlan" testname="mailbench sign-ups" enabled="true">
      <boolProp name="TestPlan.functional_mode">false</boolProp>
      <boolProp name="TestPlan.serialize_threadgroups">false</boolProp>
      <elementProp name="TestPlan.user_defined_variables" elementType="Arguments" guiclass="ArgumentsPanel" testclass="Arguments" testname="User Defined Variables" enabled="true">
        <collectionProp name="Arguments.arguments">
          <elementProp name="tag" elementType="Argument">
            <stringProp name="Argument.name">tag</stringProp>
            <stringProp name="Argument.value">t\${__time(,)}</stringProp>
            <stringProp name="Argument.metadata">=</stringProp>
          </elementProp>
        </collectionProp>
      </elementProp>
      <stringProp name="TestPlan.user_define_classpath"></stringProp>
    </TestPlan>
    <hashTree>
      <HeaderManager guiclass="HeaderPanel" testclass="HeaderManager" testname="JSON" enabled="true">
        <collectionProp name="HeaderManager.headers">
          <elementProp name="" elementType="Header">
            <stringProp name="Header.name">Content-Type</stringProp>
            <stringProp name="Header.value">application/json</stringProp>
          </elementProp>
        </collectionProp>
      </HeaderManager>
      <hashTree/>
${groups.map((g, k) => jmeterThreadGroup(k, g, url, scenario.timeoutSec * 1000, body(k))).join('')}    </hashTree>
  </hashTree>
</jmeterTestPlan>
`;
}
