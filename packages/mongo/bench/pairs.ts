/**
 * insertOne + findOne pairs per second, 10 concurrent callers, through the official driver,
 * against the stand-in in its own process. A benchmark: it prints figures, it asserts nothing.
 *   pnpm --filter @mailbench/mongo bench [-- --seconds 10 --callers 10]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { startMongo } from '../src/index.ts';

const argv = process.argv.slice(2);
while (argv[0] === '--') argv.shift();
const { values } = parseArgs({
  args: argv,
  options: {
    seconds: { type: 'string', default: '10' },
    callers: { type: 'string', default: '10' },
  },
});
const seconds = Number(values.seconds);
const callers = Number(values.callers);

const mongo = await startMongo({ log: (line) => process.stderr.write(`${line}\n`) });
const client = new MongoClient(mongo.uri, { maxPoolSize: callers });
const users = client.db('mailbench_bench').collection('users');
await users.createIndex({ email: 1 }, { unique: true });
await users.createIndex({ username: 1 }, { unique: true });

let pairs = 0;
let next = 0;
const latencies: number[] = [];
async function caller(deadline: number) {
  while (performance.now() < deadline) {
    const i = next++;
    const started = performance.now();
    const email = `user${i}@example.test`;
    await users.insertOne({
      username: `user${i}`,
      email,
      passwordHash: 'x'.repeat(64),
      createdAt: new Date(),
    });
    const found = await users.findOne({ email });
    if (!found) throw new Error(`inserted ${email} but findOne did not return it`);
    latencies.push(performance.now() - started);
    pairs++;
  }
}
// Warm-up (not counted).
await Promise.all(Array.from({ length: callers }, () => caller(performance.now() + 1000)));
pairs = 0;
latencies.length = 0;
/** CPU seconds (user + system) a process has used, from /proc (Linux); null elsewhere. */
function cpuSecondsOf(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return null;
  }
}
const serverCpuBefore = cpuSecondsOf(mongo.pid);
const clientCpuBefore = process.cpuUsage();
const started = performance.now();
await Promise.all(Array.from({ length: callers }, () => caller(started + seconds * 1000)));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]?.toFixed(2);
const serverCpuAfter = cpuSecondsOf(mongo.pid);
const clientCpu = process.cpuUsage(clientCpuBefore);
const count = await users.countDocuments();
console.log(
  `engine ${mongo.engine} ${mongo.version} on ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}`,
);
console.log(
  `${callers} callers, ${elapsed.toFixed(1)} s: ${(pairs / elapsed).toFixed(0)} insertOne+findOne pairs/s; pair latency p50 ${pct(50)} ms, p99 ${pct(99)} ms; ${count} documents`,
);
const clientShare = (clientCpu.user + clientCpu.system) / 1e6 / elapsed;
console.log(`driver process CPU: ${(clientShare * 100).toFixed(0)}% of one core`);
if (serverCpuBefore !== null && serverCpuAfter !== null) {
  const serverSec = serverCpuAfter - serverCpuBefore;
  const perPairMs = (serverSec * 1000) / pairs;
  console.log(
    `server process CPU: ${((serverSec / elapsed) * 100).toFixed(0)}% of one core, ${perPairMs.toFixed(3)} ms per pair ` +
      `=> about ${(1000 / perPairMs).toFixed(0)} pairs/s per core if the driver were not the bottleneck`,
  );
}
await client.close();
await mongo.stop();
