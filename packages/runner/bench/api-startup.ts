/**
 * The API's start-up, from fork to its IPC "ready", compiled (what the runner measures with) and
 * through tsx (MAILBENCH_LOADER=tsx), interleaved. A benchmark: it prints figures, asserts nothing.
 *   node --import tsx packages/runner/bench/api-startup.ts [--runs 10] [--variant background]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startMongo } from '@mailbench/mongo';
import { startSmtpSink } from '@mailbench/smtp-sink';
import { apiCommand, forkApiServer } from '../src/targets/api-server.ts';
import { loadScenario } from '../src/config/scenario.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    variant: { type: 'string', default: 'background' },
  },
});
const runs = Number(values.runs);
const mongo = await startMongo({ engine: 'standin', log: () => {} });
const sink = await startSmtpSink({});
const scenario = loadScenario('default');
const times: Record<string, number[]> = { compiled: [], tsx: [] };
try {
  for (let k = 0; k < runs; k++) {
    for (const loader of ['compiled', 'tsx'] as const) {
      if (loader === 'tsx') process.env.MAILBENCH_LOADER = 'tsx';
      else delete process.env.MAILBENCH_LOADER;
      const command = apiCommand(scenario, values.variant as 'background', {
        mongoUri: mongo.uri,
        dbName: `startup_${k}`,
        sink,
      });
      const started = performance.now();
      const server = await forkApiServer(command);
      // The first compiled start includes the bundling (once per process): left out.
      if (!(loader === 'compiled' && k === 0)) times[loader]!.push(performance.now() - started);
      await server.stop(10_000);
    }
  }
} finally {
  await sink.close();
  await mongo.stop();
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)} (n ${s.length})`;
};
process.stdout.write(
  `${os.cpus()[0]?.model} x${os.cpus().length}, ${values.variant}: fork → ready\n`,
);
process.stdout.write(`  compiled: ${stats(times.compiled!)}\n  tsx:      ${stats(times.tsx!)}\n`);
