/**
 * The flags of the table (flags.ts) that say where results go and how the CLI speaks: output, CI
 * and the command's own switches. Only --threshold changes what is judged.
 */
import { THRESHOLD_METRICS } from '../shapes/scenario.ts';
import { parseThreshold } from './thresholds.ts';
import { type BenchFlag, flag } from './flag-kinds.ts';

export const OUTPUT_FLAGS: readonly BenchFlag[] = [
  flag({
    name: 'threshold',
    value: 'EXPR',
    multiple: true,
    group: 'output and CI',
    measured: true,
    help: [
      'fail the run (exit 99) unless every cell it names meets it; repeatable:',
      '[LABEL:]METRIC OP VALUE, e.g. p99<500ms, inline:p99<2s, lost==0, errors<1%',
      `metrics: ${THRESHOLD_METRICS.join(', ')} (latency from intended)`,
    ],
    read: (t, o) => (o.thresholds = [...(o.thresholds ?? []), parseThreshold(t)]),
  }),
  flag({
    name: 'out',
    value: 'DIR',
    group: 'output and CI',
    measured: false,
    help: ["results folder (default: the repository's results/)"],
  }),
  flag({
    name: 'mongo',
    value: 'ENGINE',
    group: 'output and CI',
    measured: false,
    help: ['auto | mongod | standin (default: auto)'],
  }),
  flag({
    name: 'mongo-uri',
    value: 'URI',
    group: 'output and CI',
    measured: false,
    help: ['use this MongoDB (also MONGODB_URI)'],
  }),
  flag({
    name: 'junit',
    value: 'FILE',
    group: 'output and CI',
    measured: false,
    help: [
      'also write the run as JUnit XML: a test case per threshold and per cell (failed when invalid)',
    ],
  }),
  flag({
    name: 'json',
    value: null,
    group: 'output and CI',
    measured: false,
    help: ['print summary.json on stdout instead of the Markdown summary'],
  }),
  flag({
    name: 'list',
    value: null,
    group: 'output and CI',
    measured: false,
    help: ['list the scenarios and exit'],
  }),
  flag({
    name: 'quiet',
    short: 'q',
    value: null,
    group: 'output and CI',
    measured: false,
    help: ['no live progress line (start-up lines, results and errors still print)'],
  }),
  flag({
    name: 'version',
    value: null,
    group: 'output and CI',
    measured: false,
    help: ["print mailbench's version and commit, and exit"],
  }),
  flag({
    name: 'help',
    value: null,
    short: 'h',
    group: 'output and CI',
    measured: false,
    help: ['show this help'],
  }),
];
