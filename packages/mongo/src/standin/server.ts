/**
 * The stand-in's wire protocol: OP_MSG for commands, and the legacy OP_QUERY
 * hello (answered with OP_REPLY) with which the official driver still opens
 * every connection. A malformed or oversized message closes that connection only.
 */
import { once } from 'node:events';
import net from 'node:net';
import { BSON } from 'bson';
import { CommandContext, MAX_MESSAGE_SIZE, STANDIN_NAME, STANDIN_VERSION } from './commands.ts';
import type { Doc } from './values.ts';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const FLAG_CHECKSUM_PRESENT = 1 << 0;
const FLAG_MORE_TO_COME = 1 << 1;
const DESERIALIZE = { promoteValues: false, validation: { utf8: true } } as const;

class ProtocolError extends Error {}

export interface StandinServer {
  readonly host: string;
  readonly port: number;
  readonly uri: string;
  readonly version: string;
  readonly context: CommandContext;
  /** Connections currently open. */
  connections(): number;
  close(): Promise<void>;
}

export interface StandinOptions {
  host?: string;
  port?: number;
}

function readCString(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end === -1) throw new ProtocolError('unterminated C string');
  return [buf.toString('utf8', offset, end), end + 1];
}

function readDocument(buf: Buffer, offset: number, limit: number): [Doc, number] {
  if (offset + 5 > limit) throw new ProtocolError('document runs past the end of the message');
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > limit)
    throw new ProtocolError('document size does not fit the message');
  const doc = BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE) as Doc;
  return [doc, offset + size];
}

/** Parses an OP_MSG body into one command (document sequences become array fields). */
export function parseOpMsg(message: Buffer): { command: Doc; moreToCome: boolean } {
  const flags = message.readUInt32LE(16);
  // Bits 0-15 are required to be understood; only checksumPresent and moreToCome exist there.
  if ((flags & 0xffff & ~(FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME)) !== 0) {
    throw new ProtocolError(`unknown required OP_MSG flag bits ${flags.toString(2)}`);
  }
  const end = message.length - (flags & FLAG_CHECKSUM_PRESENT ? 4 : 0);
  let offset = 20;
  let command: Doc | undefined;
  const sequences: Array<[string, Doc[]]> = [];
  while (offset < end) {
    const kind = message.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      if (command) throw new ProtocolError('OP_MSG with two body sections');
      [command, offset] = readDocument(message, offset, end);
    } else if (kind === 1) {
      const size = message.readInt32LE(offset);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end)
        throw new ProtocolError('document sequence size does not fit the message');
      let identifier: string;
      [identifier, offset] = readCString(message, offset + 4);
      const docs: Doc[] = [];
      while (offset < sectionEnd) {
        let doc: Doc;
        [doc, offset] = readDocument(message, offset, sectionEnd);
        docs.push(doc);
      }
      sequences.push([identifier, docs]);
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!command) throw new ProtocolError('OP_MSG without a body section');
  for (const [identifier, docs] of sequences) {
    if (Object.hasOwn(command, identifier))
      throw new ProtocolError(`field ${identifier} given both in the body and as a sequence`);
    command[identifier] = docs;
  }
  return { command, moreToCome: (flags & FLAG_MORE_TO_COME) !== 0 };
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.allocUnsafe(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

let nextRequestId = 1;

/** OP_MSG reply: flags 0 (never a checksum), one body section. */
export function encodeOpMsg(responseTo: number, reply: Doc): Buffer {
  const body = BSON.serialize(reply);
  const prefix = Buffer.allocUnsafe(5);
  prefix.writeUInt32LE(0, 0);
  prefix.writeUInt8(0, 4);
  const length = 16 + 5 + body.length;
  return Buffer.concat([header(length, nextRequestId++, responseTo, OP_MSG), prefix, body]);
}

/** OP_REPLY: the legacy reply to the OP_QUERY hello. */
export function encodeOpReply(responseTo: number, reply: Doc): Buffer {
  const body = BSON.serialize(reply);
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(0, 0); // responseFlags
  fields.writeBigInt64LE(0n, 4); // cursorID
  fields.writeInt32LE(0, 12); // startingFrom
  fields.writeInt32LE(1, 16); // numberReturned
  return Buffer.concat([
    header(16 + 20 + body.length, nextRequestId++, responseTo, OP_REPLY),
    fields,
    body,
  ]);
}

function handleOpQuery(context: CommandContext, message: Buffer, connection: { id: number }): Doc {
  let offset = 20; // header + flags
  const [collection, afterName] = readCString(message, offset);
  offset = afterName;
  offset += 8; // numberToSkip, numberToReturn
  let query: Doc;
  [query, offset] = readDocument(message, offset, message.length);
  if (typeof query.$query === 'object' && query.$query !== null) query = query.$query as Doc;
  const db = collection.endsWith('.$cmd') ? collection.slice(0, -5) : collection;
  const name = Object.keys(query)[0] ?? '';
  if (!['hello', 'isMaster', 'ismaster'].includes(name) || !collection.endsWith('.$cmd')) {
    return {
      ok: 0,
      errmsg: `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`,
      code: 352,
      codeName: 'UnsupportedOpQueryCommand',
    };
  }
  return context.run({ ...query, $db: db }, connection);
}

export async function startStandinServer(options: StandinOptions = {}): Promise<StandinServer> {
  const host = options.host ?? '127.0.0.1';
  const context = new CommandContext();
  const sockets = new Set<net.Socket>();
  let nextConnectionId = 1;

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const connection = { id: nextConnectionId++ };
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      pending.push(chunk);
      pendingBytes += chunk.length;
      try {
        while (pendingBytes >= 4) {
          let buf = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
          pending = [buf];
          const length = buf.readInt32LE(0);
          if (length < 16 || length > MAX_MESSAGE_SIZE)
            throw new ProtocolError(`message length ${length} is out of bounds`);
          if (pendingBytes < length) break;
          const message = buf.subarray(0, length);
          buf = buf.subarray(length);
          pending = buf.length > 0 ? [buf] : [];
          pendingBytes = buf.length;
          const requestId = message.readInt32LE(4);
          const opCode = message.readInt32LE(12);
          if (opCode === OP_MSG) {
            const { command, moreToCome } = parseOpMsg(message);
            const reply = context.run(command, connection);
            // A moreToCome request expects no reply (e.g. endSessions sent unacknowledged).
            if (!moreToCome) socket.write(encodeOpMsg(requestId, reply));
          } else if (opCode === OP_QUERY) {
            socket.write(encodeOpReply(requestId, handleOpQuery(context, message, connection)));
          } else {
            throw new ProtocolError(`unsupported opCode ${opCode}`);
          }
        }
      } catch {
        // Malformed input: this connection is closed, the server goes on.
        socket.destroy();
      }
    });
  });
  server.listen(options.port ?? 0, host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  const port = (server.address() as net.AddressInfo).port;
  return {
    host,
    port,
    uri: `mongodb://${host}:${port}/?directConnection=true`,
    version: `${STANDIN_VERSION} (${STANDIN_NAME})`,
    context,
    connections: () => sockets.size,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
