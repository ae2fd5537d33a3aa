// Runs a sink in its own process for the benchmark, so the client does not share its event loop.
import { startSmtpSink } from '../src/index.ts';

const latencyMs = Number(process.env.SINK_LATENCY_MS ?? '0');
const sink = await startSmtpSink({ latency: latencyMs, keepRecords: false });
process.send?.({ type: 'ready', port: sink.port });
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stats') process.send?.({ type: 'stats', stats: sink.stats() });
});
process.on('disconnect', () => void sink.close().then(() => process.exit(0)));
