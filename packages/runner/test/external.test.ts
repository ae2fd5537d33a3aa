/**
 * `pnpm bench --target URL`: the built-in API started by hand, as a user would start their own,
 * loaded by the real CLI; the e-mails counted at the harness's sink on the port the API was
 * given; users counted in, and this run's removed from, a database the harness did not start.
 * Also: what --target refuses, a target that does not answer, a sink on every interface, and a
 * run on a MongoDB the harness did not start (MONGODB_URI) that cleans up only its own.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { startMongo, type MongoHandle } from '@mailbench/mongo';
import { parseBenchArgs } from '../src/cli/args.ts';
import { freePort } from '../src/targets/reference-targets.ts';
import {
  bench as benchInProcess,
  readJson,
  resultsValidator,
  runDirIn,
  startApiByHand,
} from './helpers.ts';

/**
 * The CLI on the smoke scenario unless a test names another: its generator thresholds are the
 * ones meant for a test beside other tests (a run judged on `default`'s 10 ms p99 turns invalid
 * whenever a shared machine is busy for a moment, which says nothing about what is tested here).
 */
function bench(args: string[]) {
  const scenario = args.includes('--scenario') ? [] : ['--scenario', 'smoke'];
  return benchInProcess([...scenario, ...args]);
}

function withDb(uri: string, db: string): string {
  const u = new URL(uri);
  u.pathname = `/${db}`;
  return u.href;
}

let mongo: MongoHandle;
let client: MongoClient;
let api: { child: ChildProcess; url: string };
let smtpPort: number;

beforeAll(async () => {
  mongo = await startMongo({ engine: 'standin' });
  client = new MongoClient(mongo.uri);
  await client.connect();
  smtpPort = await freePort();
  api = await startApiByHand([
    '--variant',
    'inline',
    '--port',
    '0',
    '--mongo-uri',
    mongo.uri,
    '--db-name',
    'target_app',
    '--smtp-port',
    String(smtpPort),
    '--log-level',
    'silent',
  ]);
}, 60_000);

afterAll(async () => {
  api?.child.kill('SIGKILL');
  await client?.close();
  await mongo?.stop();
});

describe('pnpm bench --target: an API the harness did not start', () => {
  it("125 sign-ups over 10 s: a valid cell, all 125 e-mails delivered, users counted and only this run's removed", async () => {
    const users = client.db('target_app').collection('users');
    await users.insertOne({ username: 'someone_else', email: 'someone@example.test' });
    await client.db('target_app').collection('orders').insertOne({ item: 'kept' });
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-target-'));
    const r = await bench([
      '--target',
      api.url,
      '--smtp-port',
      String(smtpPort),
      '--target-mongo-uri',
      withDb(mongo.uri, 'target_app'),
      '--requests',
      '125',
      '--duration',
      '10s',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const dir = runDirIn(out);
    const run = readJson(path.join(dir, 'run.json'));
    expect(run.scenario.target).toMatchObject({ url: api.url, label: 'external' });
    expect(run.smtpSink.port).toBe(smtpPort);
    expect(run.database.engine).toContain('external');
    const cell = readJson(path.join(dir, 'external', '125.json'));
    expect(cell.valid, cell.reasons.join('; ')).toBe(true);
    expect(cell.variant).toBe('external');
    expect(cell.statusCounts).toEqual({ '201': 125 });
    expect(cell.emails).toMatchObject({
      expected: 125,
      delivered: 125,
      lost: 0,
      duplicated: 0,
      backlogMax: null,
    });
    expect(cell.accounting).toMatchObject({ usersInDb: 125, responses2xx: 125 });
    expect(cell.server.pid).toBeNull();
    expect(cell.server.series).toEqual([]);
    expect(cell.notChecked.join(' ')).toContain('server metrics');
    // Every file against the schema.
    const validate = resultsValidator();
    for (const file of ['run.json', 'summary.json', 'external/125.json']) {
      expect(
        validate(readJson(path.join(dir, file))),
        `${file}: ${JSON.stringify(validate.errors?.slice(0, 3))}`,
      ).toBe(true);
    }
    expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toContain(`Target: ${api.url}`);
    // The run's users (warm-up and measured) are gone; what was there before stays.
    expect(await users.find({}, { projection: { _id: 0, username: 1 } }).toArray()).toEqual([
      { username: 'someone_else' },
    ]);
    expect(await client.db('target_app').collection('orders').countDocuments()).toBe(1);
  }, 120_000);

  it('without --target-mongo-uri the stored-users check is skipped and said to be; --label names the cells', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-target-'));
    const r = await bench([
      '--target',
      api.url,
      '--label',
      'my-api',
      '--smtp-port',
      String(smtpPort),
      '--requests',
      '20',
      '--duration',
      '2s',
      '--quick',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const dir = runDirIn(out);
    const cell = readJson(path.join(dir, 'my-api', '20.json'));
    expect(cell.valid, cell.reasons.join('; ')).toBe(true);
    expect(cell.accounting.usersInDb).toBeNull();
    expect(cell.notChecked.join(' ')).toContain('no --target-mongo-uri');
    expect(cell.emails.delivered).toBe(20);
    expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toContain(
      'not checked (no --target-mongo-uri)',
    );
  }, 120_000);

  it('a target that does not answer is a start-up error: exit 2, no cell run, no results folder', async () => {
    const closed = await freePort();
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-target-'));
    const r = await bench([
      '--target',
      `http://127.0.0.1:${closed}`,
      '--requests',
      '5',
      '--duration',
      '1s',
      '--quick',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('does not answer HTTP');
    expect(readdirSync(out)).toEqual([]);
  }, 60_000);

  it("refuses, with exit 2, what needs the harness's own API", async () => {
    const crash = await bench(['--scenario', 'crash', '--target', api.url]);
    expect(crash.status).toBe(2);
    expect(crash.stderr).toContain('owns no process to crash');
    const variants = await bench(['--target', api.url, '--variants', 'inline']);
    expect(variants.status).toBe(2);
    expect(variants.stderr).toContain('--variants');
    const capacity = await bench(['--target', api.url, '--capacity']);
    expect(capacity.status).toBe(2);
    expect(capacity.stderr).toContain('capacity');
  });

  it('flag checks: companions without --target, bad URLs, a database URI without a database, ports', () => {
    expect(() => parseBenchArgs(['--label', 'x'])).toThrow(/--label goes with --target/);
    expect(() => parseBenchArgs(['--target-mongo-uri', 'mongodb://h/app'])).toThrow(
      /goes with --target/,
    );
    expect(() => parseBenchArgs(['--target', 'ftp://host'])).toThrow(/http:\/\/ or https:\/\//);
    expect(() => parseBenchArgs(['--target', 'not a url'])).toThrow(/base URL/);
    expect(() => parseBenchArgs(['--target', 'http://h:1/?q=1'])).toThrow(/query/);
    expect(() =>
      parseBenchArgs(['--target', 'http://h:1', '--target-mongo-uri', 'mongodb://h:27017']),
    ).toThrow(/DATABASE/);
    expect(() => parseBenchArgs(['--target', 'http://h:1', '--label', 'Bad Label'])).toThrow(
      /--label/,
    );
    expect(() => parseBenchArgs(['--target', 'http://h:1', '--around-limit'])).toThrow(
      /--around-limit/,
    );
    expect(() => parseBenchArgs(['--target', 'http://h:1', '--hash-cost', '12'])).toThrow(
      /built-in API/,
    );
    expect(() => parseBenchArgs(['--smtp-port', '70000'])).toThrow(/--smtp-port/);
    expect(() => parseBenchArgs(['--export', 'gatling'])).toThrow(/--export must be one of/);
    const ok = parseBenchArgs([
      '--target',
      'http://127.0.0.1:3000/',
      '--target-mongo-uri',
      'mongodb://u:p@h:27017/app',
    ]);
    expect(ok.overrides.target).toEqual({
      url: 'http://127.0.0.1:3000',
      label: 'external',
      mongoUri: 'mongodb://u:p@h:27017/app',
    });
  });
});

describe('infrastructure the harness did not start', () => {
  it('on a MongoDB given by --mongo-uri it drops only its own databases; the sink can listen on every interface', async () => {
    await client.db('their_data').collection('things').insertOne({ keep: true });
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-infra-'));
    const r = await bench([
      '--variants',
      'inline',
      '--requests',
      '10',
      '--duration',
      '2s',
      '--quick',
      '--mongo-uri',
      mongo.uri,
      '--smtp-host',
      '0.0.0.0',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const dir = runDirIn(out);
    const run = readJson(path.join(dir, 'run.json'));
    expect(run.smtpSink.host).toBe('0.0.0.0');
    const cell = readJson(path.join(dir, 'inline', '10.json'));
    expect(cell.valid, cell.reasons.join('; ')).toBe(true);
    expect(cell.emails.delivered).toBe(10);
    const names = (
      await client.db('admin').admin().listDatabases({ nameOnly: true })
    ).databases.map((d) => d.name);
    expect(names).toContain('their_data');
    expect(
      names.filter((n) =>
        n.startsWith(`mb_${run.runId}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 20)),
      ),
    ).toEqual([]);
    expect(await client.db('their_data').collection('things').countDocuments()).toBe(1);
  }, 120_000);
});
