/**
 * The API as the runner uses it: a forked server.ts, killed and restarted, or stopped with SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoHandle } from '@mailbench/mongo';
import { startSmtpSink } from '@mailbench/smtp-sink';
import {
  countUsers,
  forkServer,
  postSignup,
  signupBody,
  startDatabase,
  uniqueDbName,
  waitForExit,
} from './helpers.ts';

let mongo: MongoHandle;
beforeAll(async () => {
  mongo = await startDatabase();
});
afterAll(async () => {
  await mongo?.stop();
});

function serverArgs(
  variant: string,
  dbName: string,
  smtpPort: number,
  extra: string[] = [],
): string[] {
  return [
    '--variant',
    variant,
    '--port',
    '0',
    '--mongo-uri',
    mongo.uri,
    '--db-name',
    dbName,
    '--smtp-port',
    String(smtpPort),
    '--hash-cost',
    '0',
    ...extra,
  ];
}

describe('forked server', () => {
  it('--help prints every flag and exits 0; a bad flag exits 2 naming it', async () => {
    const { spawnSync } = await import('node:child_process');
    const { SERVER_ENTRY } = await import('./helpers.ts');
    const help = spawnSync(process.execPath, ['--import', 'tsx', SERVER_ENTRY, '--help'], {
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--variant');
    expect(help.stdout).toContain('--concurrent-tasks');
    const bad = spawnSync(
      process.execPath,
      ['--import', 'tsx', SERVER_ENTRY, '--variant', 'smoke-signals'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--variant must be one of');
  }, 60_000);

  it('outbox: SIGKILL with e-mails pending, a new process on the same database delivers every one', async () => {
    const sink = await startSmtpSink({ latency: 600 });
    const dbName = uniqueDbName();
    const extra = ['--lease', '1500', '--poll', '200', '--max-connections', '2'];
    const first = await forkServer(serverArgs('outbox', dbName, sink.port, extra));
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await postSignup(first.url, signupBody(`crash${i}`));
      expect(res.status).toBe(201);
      ids.push(String(res.json.id));
    }
    // Kill while two e-mails sit at the sink unacknowledged (claimed, never marked sent) and ten
    // are pending.
    for (let i = 0; i < 500 && sink.stats().messages.inProgress < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(sink.stats().messages.inProgress).toBe(2);
    first.child.kill('SIGKILL');
    await waitForExit(first.child);
    // The sink still answers the two (to a closed socket) once their 600 ms are up.
    for (let i = 0; i < 250 && sink.stats().registrations < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(sink.stats().registrations).toBe(2);

    const second = await forkServer(serverArgs('outbox', dbName, sink.port, extra));
    try {
      await sink.waitFor(12, { timeoutMs: 30_000 });
      const counts = sink.registrationCounts();
      for (const id of ids) expect(counts.get(id) ?? 0).toBeGreaterThanOrEqual(1);
      // At-least-once: the sink accepted the two in progress after the kill; they were never marked
      // sent, so the new process takes them over when their lease expires and sends them again.
      for (let i = 0; i < 50 && sink.stats().duplicates < 2; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(sink.stats().duplicates).toBe(2);
      for (
        let i = 0;
        i < 50 && (await countUsers(mongo, dbName, { 'mail.state': 'sent' })) < 12;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await countUsers(mongo, dbName, { 'mail.state': 'sent' })).toBe(12);
    } finally {
      second.child.kill('SIGTERM');
      await waitForExit(second.child);
      await sink.close();
    }
  }, 60_000);

  it('background: SIGTERM with sends in flight drains them when time allows', async () => {
    const sink = await startSmtpSink({ latency: 800 });
    const server = await forkServer(
      serverArgs('background', uniqueDbName(), sink.port, ['--drain-timeout', '10000']),
    );
    for (let i = 0; i < 5; i++)
      expect((await postSignup(server.url, signupBody(`drain${i}`))).status).toBe(201);
    server.child.kill('SIGTERM');
    await waitForExit(server.child);
    const shutdown = server.messages.find((m) => m.type === 'shutdown');
    expect(shutdown).toMatchObject({ drained: 5, abandoned: 0 });
    expect(server.child.exitCode).toBe(0);
    expect(sink.stats().registrations).toBe(5);
    expect(server.stderr()).toContain('5 e-mails drained, 0 abandoned');
    await sink.close();
  }, 30_000);

  it('background: a client dribbling its body cannot hold the drain on SIGTERM', async () => {
    const sink = await startSmtpSink({ latency: 800 });
    const server = await forkServer(
      serverArgs('background', uniqueDbName(), sink.port, ['--drain-timeout', '2000']),
    );
    for (let i = 0; i < 3; i++)
      expect((await postSignup(server.url, signupBody(`drib${i}`))).status).toBe(201);
    const { connect } = await import('node:net');
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      'POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"user',
    );
    const dribble = setInterval(() => socket.write(' '), 200);
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill('SIGTERM');
    await waitForExit(server.child);
    clearInterval(dribble);
    socket.destroy();
    // The e-mails may have gone out during the HTTP grace: whichever way, the drain ran and
    // reported.
    expect(server.messages.find((m) => m.type === 'shutdown')).toMatchObject({ abandoned: 0 });
    expect(server.child.exitCode).toBe(0);
    expect(sink.stats().registrations).toBe(3);
    await sink.close();
  }, 30_000);

  it('background: SIGTERM with a short drain timeout counts what it abandons, never drops silently', async () => {
    const sink = await startSmtpSink({ latency: 5000 });
    const server = await forkServer(
      serverArgs('background', uniqueDbName(), sink.port, [
        '--drain-timeout',
        '300',
        '--max-connections',
        '1',
      ]),
    );
    for (let i = 0; i < 4; i++)
      expect((await postSignup(server.url, signupBody(`ab${i}`))).status).toBe(201);
    server.child.kill('SIGTERM');
    await waitForExit(server.child);
    const shutdown = server.messages.find((m) => m.type === 'shutdown') as
      | { drained: number; abandoned: number }
      | undefined;
    expect(shutdown).toBeDefined();
    expect(shutdown!.drained + shutdown!.abandoned).toBe(4);
    expect(shutdown!.abandoned).toBe(4);
    expect(server.stderr()).toContain('4 abandoned');
    // Whom they were for, so a harness can tell them from mail lost without a word.
    expect((shutdown as { abandonedTo?: string[] }).abandonedTo?.sort()).toEqual([
      'userab0@example.test',
      'userab1@example.test',
      'userab2@example.test',
      'userab3@example.test',
    ]);
    await sink.close();
  }, 30_000);
});
