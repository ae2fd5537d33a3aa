/**
 * The seeded draws of each message, in arrival order: its latency, and whether it is refused.
 * Latency and faults have separate streams, so that turning faults on does not change the delays.
 */
import { drawLatencyMs, type LatencySpec } from './latency.ts';
import { createRandom, type Random } from './random.ts';

export type FaultOutcome = { refused: false } | { refused: true; code: 451 | 550; message: string };

export interface MessageDraw {
  delayMs: number;
  fault: FaultOutcome;
}

export function createDraws(options: {
  latency: LatencySpec;
  seed: number;
  tempFailRate: number;
  permFailRate: number;
}) {
  const { seed, tempFailRate, permFailRate } = options;
  let latency = options.latency;
  let latencyRandom: Random = createRandom(seed);
  let faultRandom: Random = createRandom(seed ^ 0x5bd1e995);
  const faultOf = (draw: number): FaultOutcome => {
    if (draw < permFailRate)
      return {
        refused: true,
        code: 550,
        message: '5.7.1 Message rejected by the sink (injected permanent failure)',
      };
    if (draw < permFailRate + tempFailRate)
      return {
        refused: true,
        code: 451,
        message: '4.3.0 Temporary failure (injected), try again later',
      };
    return { refused: false };
  };
  return {
    get latency(): LatencySpec {
      return latency;
    },
    /** The model the next draws come from. */
    setLatency(next: LatencySpec): void {
      latency = next;
    },
    /** The next message's draws. */
    next(): MessageDraw {
      const delayMs = drawLatencyMs(latency, latencyRandom);
      const faultDraw = tempFailRate + permFailRate > 0 ? faultRandom() : 1;
      return { delayMs, fault: faultOf(faultDraw) };
    },
    /** Back to the start of both streams. */
    reset(): void {
      latencyRandom = createRandom(seed);
      faultRandom = createRandom(seed ^ 0x5bd1e995);
    },
  };
}
