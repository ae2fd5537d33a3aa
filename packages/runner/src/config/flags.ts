/**
 * Every flag of `pnpm bench`, once: its name and value, its group and help, how its text is
 * parsed and where the value goes, and whether it changes what is measured. parseArgs' options,
 * --help, the overrides and every summary's "overridden by" come from this table.
 */
import { VARIANTS } from '@mailbench/target-api/contract';
import { describeLatency } from '@mailbench/smtp-sink';
import { CELL_ENGINES, REFERENCE_NAMES } from '../shapes/scenario.ts';
import { type BenchFlag, flag } from './flag-kinds.ts';
import { OUTPUT_FLAGS } from './output-flags.ts';
import {
  aaControl,
  durationSec,
  hashCost,
  latency,
  list,
  oneOf,
  parseStages,
  positiveInt,
  positiveInts,
  variantList,
} from './flag-values.ts';

/** The table. Order: as --help lists them, group by group. */
export const BENCH_FLAGS: readonly BenchFlag[] = [
  flag({
    name: 'scenario',
    value: 'NAME|PATH',
    group: 'what runs',
    measured: false,
    help: ['scenario in scenarios/NAME.json, or a scenario file (default: default)'],
  }),
  flag({
    name: 'variants',
    value: 'LIST',
    group: 'what runs',
    measured: true,
    help: [
      `comma-separated subset of: ${VARIANTS.join(', ')};`,
      `or the reference targets: ${REFERENCE_NAMES.join(', ')}`,
    ],
    read: (t, o) => (o.variants = variantList(t)),
  }),
  flag({
    name: 'aa-control',
    value: 'VARIANT',
    group: 'what runs',
    measured: true,
    help: [
      'also run VARIANT as a twin (VARIANT-aa): the spread between the two is the noise floor',
    ],
    read: (t, o) => (o.aaControl = aaControl(t)),
  }),
  flag({
    name: 'repeats',
    value: 'N',
    group: 'what runs',
    measured: true,
    help: ['repeats of each cell, and of each breaking-point search, interleaved A B C A B C'],
    fromScenario: (s) => String(s.repeats),
    read: (t, o) => (o.repeats = positiveInt('--repeats', t)),
  }),
  flag({
    name: 'quick',
    value: null,
    group: 'what runs',
    measured: true,
    help: [
      'same arrival rates, shorter windows: 10 s windows with request counts',
      'scaled to match (750 over 60 s becomes 125 over 10 s), warm-up <= 2 s,',
      'drain bound <= 60 s, capacity probe <= 5 s',
    ],
  }),
  flag({
    name: 'capacity',
    value: null,
    group: 'what runs',
    measured: true,
    help: ['also run the closed-loop capacity probe per variant'],
    read: (_t, o) => (o.capacity = true),
  }),
  flag({
    name: 'around-limit',
    value: null,
    group: 'what runs',
    measured: true,
    help: [
      "probe every variant's capacity first, then run the request counts at the",
      "ratios 750/800/850/1000 over 60 s had to the original stack's ~13/s",
      "(0.96, 1.03, 1.09, 1.28) of the slowest variant's capacity here",
    ],
  }),
  flag({
    name: 'requests',
    value: 'LIST',
    group: 'load',
    measured: true,
    help: ['request counts, e.g. 750,800'],
    fromScenario: (s) => s.requests.join(','),
    read: (t, o) => (o.requests = positiveInts('--requests', t)),
  }),
  flag({
    name: 'duration',
    value: 'DUR',
    group: 'load',
    measured: true,
    help: ['measured window per cell with its unit: 60s, 1.5m, 90000ms'],
    fromScenario: (s) => `${s.durationSec}s`,
    read: (t, o) => (o.durationSec = durationSec(t)),
  }),
  flag({
    name: 'stages',
    value: 'LIST',
    group: 'load',
    measured: true,
    help: [
      'a load profile instead of --requests/--duration: stages of arrival rate,',
      'RATE/s:DUR or FROM-TO/s:DUR (a linear ramp), e.g. 10/s:20s,10-40/s:60s',
    ],
    read: (t, o) => (o.stages = parseStages(t)),
  }),
  flag({
    name: 'connection',
    value: 'MODE',
    group: 'load',
    measured: true,
    help: ['per-request | keep-alive'],
    fromScenario: (s) => s.connection,
    read: (t, o) =>
      (o.connection = oneOf('--connection', t, ['per-request', 'keep-alive'] as const)),
  }),
  flag({
    name: 'engine',
    value: 'NAME',
    group: 'load',
    measured: true,
    help: [
      "what sends each cell's schedule: mailbench (default) | jmeter (the original's",
      "plan: N threads started over the window, loop 1; JMeter's log read back)",
    ],
    read: (t, o) => (o.engine = oneOf('--engine', t, CELL_ENGINES)),
  }),
  flag({
    name: 'pin-cores',
    value: null,
    group: 'load',
    measured: true,
    help: [
      "the API on the machine's last core, the harness on the others (taskset); off by default",
    ],
    read: (_t, o) => (o.pinCores = true),
  }),
  flag({
    name: 'slo-p99',
    value: 'DUR',
    group: 'load',
    measured: true,
    help: ["breaking point: the SLO's p99 latency from intended"],
    fromScenario: (s) => `${s.breakingPoint.sloP99Ms / 1000}s`,
    read: (t, o) => (o.sloP99Ms = durationSec(t, '--slo-p99') * 1000),
  }),
  flag({
    name: 'step',
    value: 'DUR',
    group: 'load',
    measured: true,
    help: ['breaking point: the measured window of each step, at least 20s'],
    fromScenario: (s) => `${s.breakingPoint.stepSec}s`,
    read: (t, o) => (o.stepSec = durationSec(t, '--step')),
  }),
  flag({
    name: 'smtp-latency',
    value: 'SPEC',
    group: 'SMTP',
    measured: true,
    help: ['sink latency: 500ms, uniform:100ms-300ms, normal:200ms,50ms, lognormal:200ms,2s'],
    fromScenario: (s) => describeLatency(s.smtp.latency),
    read: (t, o) => (o.smtpLatency = latency(t)),
  }),
  flag({
    name: 'smtp-connections',
    value: 'N[,N…]',
    group: 'SMTP',
    measured: true,
    help: [
      'the SMTP connection budget of every variant (worker-pool splits it',
      'across its threads; default 5); several values sweep it (inline.c10, …)',
    ],
    read: (t, o) => (o.smtpConnections = positiveInts('--smtp-connections', t)),
  }),
  flag({
    name: 'hash-cost',
    value: 'N[,N…]',
    group: 'the API',
    measured: true,
    help: [
      'scrypt log2(N) per sign-up, 0 = off;',
      'several values sweep it: every variant once per value (inline.h12, …)',
    ],
    fromScenario: (s) => String(s.hashCost),
    read: (t, o) => {
      const costs = [...new Set(list('--hash-cost', t).map(hashCost))];
      if (costs.length === 1) o.hashCost = costs[0] as number;
      else o.hashCosts = costs;
    },
  }),
  flag({
    name: 'agenda-process-every',
    value: 'MS[,MS…]',
    group: 'the API',
    measured: true,
    help: [
      'agenda: how often it looks for due jobs (default 5000);',
      'several values sweep it (agenda.p1000, …)',
    ],
    read: (t, o) => (o.agendaProcessEveryMs = positiveInts('--agenda-process-every', t)),
  }),
  flag({
    name: 'queue-concurrency',
    value: 'N[,N…]',
    group: 'the API',
    measured: true,
    help: [
      'agenda and bullmq: jobs sent at once (default: the SMTP connection',
      'budget); several values sweep it (bullmq.q20, …)',
    ],
    read: (t, o) => (o.queueConcurrency = positiveInts('--queue-concurrency', t)),
  }),
  flag({
    name: 'flask-workers',
    value: 'N',
    group: "the original's stack",
    measured: true,
    help: ['gunicorn workers of the Flask reference targets'],
    fromScenario: (s) => String(s.reference.workers),
    read: (t, o) => (o.flaskWorkers = positiveInt('--flask-workers', t)),
  }),
  flag({
    name: 'flask-worker-class',
    value: 'K',
    group: "the original's stack",
    measured: true,
    help: ["gevent | sync: gunicorn's worker class for them"],
    fromScenario: (s) => s.reference.workerClass ?? 'gevent',
    read: (t, o) =>
      (o.flaskWorkerClass = oneOf('--flask-worker-class', t, ['gevent', 'sync'] as const)),
  }),
  flag({
    name: 'password-hash',
    value: 'MODE',
    group: "the original's stack",
    measured: true,
    help: ['none | werkzeug: how the Flask targets store passwords'],
    fromScenario: (s) => s.reference.passwordHash,
    read: (t, o) => (o.passwordHash = oneOf('--password-hash', t, ['none', 'werkzeug'] as const)),
  }),
  flag({
    name: 'target',
    value: 'URL',
    group: 'your own API',
    measured: true,
    help: [
      'load an API the harness did not start (base URL; POST URL/api/users) instead',
      'of the built-in variants; the harness still runs the SMTP sink and counts',
      'the e-mails (see docs/engines.md, "Your own API", for the contract)',
    ],
  }),
  flag({
    name: 'label',
    value: 'NAME',
    group: 'your own API',
    measured: true,
    help: ["what the target's cells are called and filed as (default: external)"],
  }),
  flag({
    name: 'target-mongo-uri',
    value: 'URI',
    group: 'your own API',
    measured: false,
    help: [
      'the database the target stores its users in (collection "users"), for',
      'the stored-users check; without it the check is skipped, and the results say so',
    ],
  }),
  flag({
    name: 'smtp-host',
    value: 'HOST',
    group: 'your own API',
    measured: false,
    help: ['interface the SMTP sink listens on (default: 127.0.0.1)'],
  }),
  flag({
    name: 'smtp-port',
    value: 'N',
    group: 'your own API',
    measured: false,
    help: [
      'port the SMTP sink listens on, for a target configured with a fixed one',
      '(default: a free port)',
    ],
  }),
  flag({
    name: 'export',
    value: 'ENGINE',
    group: 'your own API',
    measured: false,
    help: [
      'write the scenario as a script for artillery | jmeter | k6 (with --target',
      'URL, default http://127.0.0.1:3000) into --out, and exit without running',
    ],
  }),
  ...OUTPUT_FLAGS,
];
