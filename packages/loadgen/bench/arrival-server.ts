// A server for the fidelity benchmark, in its own process: records when each request arrives
// (epoch ms, sub-ms) and answers after a fixed delay. A request for /r/<run>/<i> is request i of
// the current run's measured schedule and is filed under i (a late request of an earlier run is
// ignored); any other path but /w/ (warm-up) is kept in arrival order, for tools that cannot
// number.
//
// Two ways to receive (argv[2]):
// - `raw` (default): a TCP responder that stamps a request when its bytes are read from the socket,
//   finds the request line and the end of the head (and skips a Content-Length body), and writes a
//   fixed answer; it closes after answering a request that says `Connection: close`. Enough
// HTTP/1.1
//   for the generators measured here, and as little work per request as a Node process can do, so
//   its own delay is as small as the instrument can make it.
// - `http`: node:http, stamped in its request handler, after Node has parsed the request: a
//   typical Node server, whose own per-request work shows in the figure at thousands per second.
// A run may ask it to stay awake (a 1 ms timer): how much of the server-side error is its own
// wake-up from idle rather than the generator's lateness.
import { createServer as createHttpServer } from 'node:http';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';

const kind = process.argv[2] ?? 'raw';
if (kind !== 'raw' && kind !== 'http') throw new Error(`arrival server: raw or http, got ${kind}`);

let delayMs = 0;
let run = '';
/**
 * A 1 ms timer that keeps this process (and its CPU) awake between requests, when a run asks for
 * it.
 */
let keepAwake: NodeJS.Timeout | null = null;
let byIndex: number[] = [];
let inOrder: number[] = [];

function record(url: string, at: number): void {
  if (url.startsWith('/r/')) {
    const [, , from, i] = url.split('/');
    if (from === run) byIndex[Number(i)] = at;
  } else if (!url.startsWith('/w/')) inOrder.push(at);
}

const ANSWER = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok',
  'latin1',
);
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

function rawServer(): Server {
  return createTcpServer({ noDelay: true }, (socket) => {
    let pending: Buffer = Buffer.alloc(0);
    /** Body bytes of the current request still to skip. */
    let skip = 0;
    socket.on('data', (chunk: Buffer) => {
      const at = performance.timeOrigin + performance.now();
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, pending.length);
          skip -= n;
          pending = pending.subarray(n);
          if (skip > 0) return;
        }
        const end = pending.indexOf(HEAD_END);
        if (end < 0) return;
        const head = pending.toString('latin1', 0, end);
        pending = pending.subarray(end + HEAD_END.length);
        const lineEnd = head.indexOf('\r\n');
        const [, url = ''] = (lineEnd < 0 ? head : head.slice(0, lineEnd)).split(' ');
        record(url, at);
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        skip = length ? Number(length[1]) : 0;
        const close = /\r\nconnection: *close/i.test(head);
        const answer = () => (close ? socket.end(ANSWER) : socket.write(ANSWER));
        if (delayMs > 0) setTimeout(answer, delayMs);
        else answer();
      }
    });
    socket.on('error', () => {});
  });
}

function httpServer(): Server {
  const server = createHttpServer((req, res) => {
    record(req.url ?? '', performance.timeOrigin + performance.now());
    req.resume();
    req.on('end', () => {
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.maxRequestsPerSocket = 0;
  return server;
}

const server = kind === 'raw' ? rawServer() : httpServer();
const sockets = new Set<Socket>();
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
});
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
process.on(
  'message',
  (m: { type: string; delayMs?: number; run?: string; keepAwake?: boolean }) => {
    if (m.type === 'reset') {
      if (keepAwake) clearInterval(keepAwake);
      keepAwake = m.keepAwake ? setInterval(() => {}, 1) : null;
      run = m.run ?? '';
      byIndex = [];
      inOrder = [];
      delayMs = m.delayMs ?? 0;
      // Every run starts on connections of its own (the raw responder has no notion of idle: all
      // go).
      for (const socket of sockets) socket.destroy();
      process.send?.({ type: 'reset-done' });
    } else if (m.type === 'arrivals') {
      process.send?.({ type: 'arrivals', byIndex: Array.from(byIndex, (v) => v ?? null), inOrder });
    }
  },
);
process.on('disconnect', () => process.exit(0));
