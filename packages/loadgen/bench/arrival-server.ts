// A server for the fidelity benchmark, in its own process: records when each request arrives
// (epoch ms, sub-ms) and answers after a fixed delay. A request for /r/<run>/<i> is request i of
// the current run's measured schedule and is filed under i (a late request of an earlier run is
// ignored); any other path but /w/ (warm-up) is kept in arrival order, for tools that cannot number.
// A run may ask it to stay awake (a 1 ms timer): how much of the server-side error is its own
// wake-up from idle rather than the generator's lateness.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let delayMs = 0;
let run = '';
/** A 1 ms timer that keeps this process (and its CPU) awake between requests, when a run asks for it. */
let keepAwake: NodeJS.Timeout | null = null;
let byIndex: number[] = [];
let inOrder: number[] = [];
const server = createServer((req, res) => {
  const at = performance.timeOrigin + performance.now();
  const url = req.url ?? '';
  if (url.startsWith('/r/')) {
    const [, , from, i] = url.split('/');
    if (from === run) byIndex[Number(i)] = at;
  } else if (!url.startsWith('/w/')) inOrder.push(at);
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
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
process.on('message', (m: { type: string; delayMs?: number; run?: string; keepAwake?: boolean }) => {
  if (m.type === 'reset') {
    if (keepAwake) clearInterval(keepAwake);
    keepAwake = m.keepAwake ? setInterval(() => {}, 1) : null;
    run = m.run ?? '';
    byIndex = [];
    inOrder = [];
    delayMs = m.delayMs ?? 0;
    server.closeIdleConnections();
    process.send?.({ type: 'reset-done' });
  } else if (m.type === 'arrivals') {
    process.send?.({ type: 'arrivals', byIndex: Array.from(byIndex, (v) => v ?? null), inOrder });
  }
});
process.on('disconnect', () => process.exit(0));
