import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { MongoClient } from 'mongodb';
import { startMongo, type MongoHandle } from '@mailbench/mongo';
import {
  startSmtpSink,
  type SmtpSink,
  type SmtpSinkOptions,
  type SinkRecord,
} from '@mailbench/smtp-sink';
import { buildApp, type BuildAppOptions } from '../src/index.ts';

export const SERVER_ENTRY = fileURLToPath(new URL('../src/server.ts', import.meta.url));

let dbCounter = 0;
export function uniqueDbName(): string {
  return `api_test_${process.pid}_${Date.now()}_${dbCounter++}`;
}

export async function startDatabase(): Promise<MongoHandle> {
  return startMongo({ engine: 'standin', log: () => {} });
}

export interface TestStack {
  app: FastifyInstance;
  sink: SmtpSink;
  dbName: string;
  close(): Promise<void>;
}

export async function startStack(
  mongo: MongoHandle,
  variant: NonNullable<BuildAppOptions['variant']>,
  sinkOptions: SmtpSinkOptions = {},
  extra: Partial<BuildAppOptions> = {},
): Promise<TestStack> {
  const sink = await startSmtpSink(sinkOptions);
  const dbName = uniqueDbName();
  const app = await buildApp({
    variant,
    mongoUri: mongo.uri,
    dbName,
    hashCost: 0,
    ...extra,
    smtp: { host: sink.host, port: sink.port, ...extra.smtp },
  });
  return {
    app,
    sink,
    dbName,
    async close() {
      await app.close();
      await sink.close();
    },
  };
}

export async function countUsers(
  mongo: MongoHandle,
  dbName: string,
  filter: object = {},
): Promise<number> {
  const client = new MongoClient(mongo.uri);
  try {
    return await client.db(dbName).collection('users').countDocuments(filter);
  } finally {
    await client.close();
  }
}

export function signupBody(i: number | string) {
  return {
    username: `user_${i}`,
    email: `user${i}@example.test`,
    password: 'correct horse battery',
  };
}

/** The confirmation link in a delivered message's text part (the body may be quoted-printable). */
export function linkOf(record: SinkRecord): URL {
  const body = record.body.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const match = /https?:\/\/\S+\/api\/users\/confirm\?token=[A-Za-z0-9_%-]+/.exec(body);
  if (!match) throw new Error(`no confirmation link in the message:\n${body}`);
  return new URL(match[0]);
}

export interface ForkedServer {
  child: ChildProcess;
  port: number;
  url: string;
  messages: Array<Record<string, unknown>>;
  stderr(): string;
}

/** Forks the real entry file, as the runner does, and waits for its IPC "ready". */
export async function forkServer(args: string[]): Promise<ForkedServer> {
  const child = fork(SERVER_ENTRY, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const messages: Array<Record<string, unknown>> = [];
  child.on('message', (m) => messages.push(m as Record<string, unknown>));
  const ready = new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready' && typeof m.port === 'number') resolve(m.port);
    });
    child.once('exit', (code) =>
      reject(new Error(`server exited with ${code} before ready:\n${stderr}`)),
    );
  });
  const port = await ready;
  return { child, port, url: `http://127.0.0.1:${port}`, messages, stderr: () => stderr };
}

export async function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

export async function postSignup(
  url: string,
  body: object,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
