// The floor of the fidelity benchmark: the least a Node process can do to send a schedule, in a
// process of its own. Every request is a prebuilt buffer; at its due time it is written to a
// socket with one call: no HTTP client, no per-request object, nothing parsed (answers are read
// and dropped; with a connection per request the server's close ends the socket). It waits the
// way the generator does (a timer until 2 ms before, setImmediate until 0.25 ms before, the
// CPU for the rest), so what separates the generator from this floor is the HTTP client, and
// what separates this floor from zero is the machine: two processes on two shared cores.
import { connect, type Socket } from 'node:net';
import { evenDueTimes } from '../src/index.ts';

export interface FloorStart {
  port: number;
  run: string;
  count: number;
  durationMs: number;
  connection: 'keep-alive' | 'per-request';
  /** Sent first, over one second, to /w/<i> (as the generator's warm-up). */
  warmupCount: number;
}
export interface FloorDone {
  t0EpochMs: number;
  intended: number[];
  sent: number[];
}

const EARLY_WAKE_MS = 2;
const SPIN_MS = 0.25;
/**
 * Keep-alive sockets the schedule cycles over (the responder answers pipelined requests in order).
 */
const KEEP_ALIVE_SOCKETS = 16;
/**
 * A per-request connection is opened this long before its request is due, as the generator does.
 */
const LEAD_MS = 30;

function open(port: number): Socket {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  socket.on('error', () => {});
  socket.resume();
  return socket;
}

async function send(
  start: Pick<FloorStart, 'port' | 'count' | 'durationMs' | 'connection'>,
  prefix: string,
): Promise<FloorDone> {
  const { port, count, durationMs, connection } = start;
  const requests = Array.from({ length: count }, (_, i) =>
    Buffer.from(
      `GET ${prefix}${i} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${connection === 'per-request' ? 'connection: close\r\n' : ''}\r\n`,
      'latin1',
    ),
  );
  const intended = evenDueTimes(count, durationMs);
  const sent = new Float64Array(count);
  const perRequest = connection === 'per-request';
  const shared = perRequest ? [] : Array.from({ length: KEEP_ALIVE_SOCKETS }, () => open(port));
  const own: Socket[] = new Array(count);
  const closed: Promise<void>[] = [];
  await new Promise((r) => setTimeout(r, perRequest ? 5 : 50)); // the shared sockets connect
  const t0 = performance.now() + 5 + (perRequest ? LEAD_MS : 0);
  let next = 0;
  let opened = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      for (;;) {
        const now = performance.now() - t0;
        // Connections first: a timer that fired late must not find a due request without one.
        while (perRequest && opened < count && (intended[opened] as number) <= now + LEAD_MS) {
          const socket = open(port);
          closed.push(new Promise((r) => socket.once('close', () => r())));
          own[opened++] = socket;
        }
        while (next < count && (intended[next] as number) <= now) {
          const i = next++;
          const socket = perRequest
            ? (own[i] as Socket)
            : (shared[i % KEEP_ALIVE_SOCKETS] as Socket);
          socket.write(requests[i] as Buffer);
          sent[i] = performance.now() - t0;
        }
        if (next >= count) return resolve();
        const due = intended[next] as number;
        // Wake for whichever comes first: the next request, or the next connection to open.
        const wake =
          perRequest && opened < count
            ? Math.min(due, (intended[opened] as number) - LEAD_MS)
            : due;
        const wait = wake - (performance.now() - t0);
        if (wait > EARLY_WAKE_MS + 0.5) return void setTimeout(tick, wait - EARLY_WAKE_MS);
        if (wait > SPIN_MS) return void setImmediate(tick);
        while (performance.now() - t0 < wake);
      }
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 100));
  for (const socket of shared) socket.destroy();
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 5000))]);
  for (const socket of own) socket?.destroy();
  return {
    t0EpochMs: performance.timeOrigin + t0,
    intended: Array.from(intended),
    sent: Array.from(sent),
  };
}

process.on('message', (start: FloorStart) => {
  void (async () => {
    if (start.warmupCount > 0)
      await send({ ...start, count: start.warmupCount, durationMs: 1000 }, '/w/');
    process.send?.(await send(start, `/r/${start.run}/`));
  })();
});
process.on('disconnect', () => process.exit(0));
