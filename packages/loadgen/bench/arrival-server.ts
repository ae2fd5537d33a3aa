// A server for the fidelity benchmark, in its own process: records when each request arrives
// (epoch ms) and answers after a fixed delay.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let delayMs = 0;
let arrivals: number[] = [];
const server = createServer((req, res) => {
  arrivals.push(performance.timeOrigin + performance.now());
  req.resume();
  req.on('end', () => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    }, delayMs);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
process.on('message', (m: { type: string; delayMs?: number }) => {
  if (m.type === 'reset') {
    arrivals = [];
    delayMs = m.delayMs ?? 0;
    server.closeIdleConnections();
    process.send?.({ type: 'reset-done' });
  } else if (m.type === 'arrivals') {
    process.send?.({ type: 'arrivals', arrivals });
  }
});
process.on('disconnect', () => process.exit(0));
