import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BSON } from 'bson';
import { MongoClient } from 'mongodb';
import { startStandinServer, type StandinServer } from '../src/index.ts';

let server: StandinServer;
beforeAll(async () => {
  server = await startStandinServer();
});
afterAll(async () => {
  await server.close();
});

function opMsg(requestId: number, body: object, flags = 0): Buffer {
  const doc = BSON.serialize(body);
  const h = Buffer.alloc(21);
  h.writeInt32LE(21 + doc.length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(2013, 12);
  h.writeUInt32LE(flags, 16);
  h.writeUInt8(0, 20);
  return Buffer.concat([h, doc]);
}

async function open(): Promise<Socket> {
  const socket = connect(server.port, server.host);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/**
 * Resolves with the first reply's body, or null if the socket closed or nothing came within waitMs.
 */
function nextReply(
  socket: Socket,
  waitMs = 500,
): Promise<Record<string, unknown> | 'closed' | null> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(null), waitMs);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 4 && buf.length >= buf.readInt32LE(0))
        done(BSON.deserialize(buf.subarray(21, buf.readInt32LE(0))));
    };
    const onClose = () => done('closed');
    function done(value: Record<string, unknown> | 'closed' | null) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(value);
    }
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

describe('stand-in wire protocol', () => {
  it('answers an OP_MSG and never sets the checksum flag', async () => {
    const socket = await open();
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write(opMsg(7, { ping: 1, $db: 'admin' }));
    await new Promise((r) => setTimeout(r, 200));
    const reply = Buffer.concat(chunks);
    expect(reply.readInt32LE(8)).toBe(7); // responseTo
    expect(reply.readInt32LE(12)).toBe(2013);
    expect(reply.readUInt32LE(16)).toBe(0); // no checksum, no moreToCome
    expect(BSON.deserialize(reply.subarray(21))).toEqual({ ok: 1 });
    socket.destroy();
  });

  it('does not answer a moreToCome message', async () => {
    const socket = await open();
    socket.write(opMsg(8, { endSessions: [], $db: 'admin' }, 0b10));
    expect(await nextReply(socket, 300)).toBeNull();
    socket.write(opMsg(9, { ping: 1, $db: 'admin' }));
    expect(await nextReply(socket)).toEqual({ ok: 1 });
    socket.destroy();
  });

  it('closes a connection that sends a malformed message, and keeps serving others', async () => {
    const bad = await open();
    const header = Buffer.alloc(30, 0xff);
    header.writeInt32LE(30, 0);
    header.writeInt32LE(2013, 12);
    bad.write(header); // garbage sections
    expect(await nextReply(bad)).toBe('closed');

    const oversized = await open();
    const big = Buffer.alloc(16);
    big.writeInt32LE(60_000_000, 0);
    oversized.write(big);
    expect(await nextReply(oversized)).toBe('closed');

    const unknownOp = await open();
    const op = Buffer.alloc(16);
    op.writeInt32LE(16, 0);
    op.writeInt32LE(9999, 12);
    unknownOp.write(op);
    expect(await nextReply(unknownOp)).toBe('closed');

    const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 2000 });
    expect(await client.db('admin').command({ ping: 1 })).toMatchObject({ ok: 1 });
    await client.close();
  });
});
