/**
 * How many messages per second does the sink accept through nodemailer?
 * A benchmark, not a test: it prints figures and never fails on them.
 *   pnpm --filter @mailbench/smtp-sink bench
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import type { SinkStats } from '../src/index.ts';

interface Case {
  name: string;
  latencyMs: number;
  maxConnections: number;
  messages: number;
}

const cases: Case[] = [
  { name: '0 ms latency, pool of 5', latencyMs: 0, maxConnections: 5, messages: 5000 },
  { name: '500 ms latency, pool of 5', latencyMs: 500, maxConnections: 5, messages: 100 },
  { name: '500 ms latency, pool of 50', latencyMs: 500, maxConnections: 50, messages: 1000 },
];

async function startChild(latencyMs: number): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(new URL('./sink-child.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SINK_LATENCY_MS: String(latencyMs) },
  });
  const [msg] = (await once(child, 'message')) as [{ type: string; port: number }];
  return { child, port: msg.port };
}

async function childStats(child: ChildProcess): Promise<SinkStats> {
  child.send({ type: 'stats' });
  const [msg] = (await once(child, 'message')) as [{ stats: SinkStats }];
  return msg.stats;
}

async function runCase(c: Case) {
  const { child, port } = await startChild(c.latencyMs);
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: c.maxConnections,
    maxMessages: Infinity,
  });
  // Warm-up: open the pool's connections.
  await Promise.all(
    Array.from({ length: c.maxConnections }, (_, i) => transport.sendMail(message(`warm-${i}`))),
  );
  const started = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: c.messages }, (_, i) => transport.sendMail(message(`m-${i}`))),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = await childStats(child);
  transport.close();
  child.disconnect();
  await once(child, 'exit');
  const failed = results.filter((r) => r.status === 'rejected').length;
  return {
    ...c,
    seconds,
    perSec: (c.messages - failed) / seconds,
    failed,
    accepted: stats.messages.accepted - c.maxConnections,
  };
}

function message(id: string) {
  return {
    from: 'noreply@mailbench.test',
    to: 'user@example.test',
    subject: 'Confirm your account',
    text: 'Confirm: http://127.0.0.1/api/users/confirm?token=abc',
    html: '<p>Confirm: <a href="http://127.0.0.1/api/users/confirm?token=abc">link</a></p>',
    headers: { 'X-Registration-Id': id },
  };
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stderr.write(
  `smtp-sink throughput on ${cpu}, ${os.cpus().length} cores, Node ${process.version}\n`,
);
console.log('| case | messages | seconds | accepted msg/s | failed |');
console.log('|---|---:|---:|---:|---:|');
for (const c of cases) {
  const r = await runCase(c);
  console.log(
    `| ${r.name} | ${r.messages} | ${r.seconds.toFixed(2)} | ${r.perSec.toFixed(1)} | ${r.failed} |`,
  );
}
