import { describe, expect, it } from 'vitest';
import { parseSinkArgs } from '../src/cli.ts';

describe('smtp-sink CLI arguments', () => {
  it('applies defaults', () => {
    const config = parseSinkArgs([]);
    expect(config.help).toBe(false);
    expect(config.statsEveryMs).toBe(5000);
    expect(config.options).toMatchObject({
      host: '127.0.0.1',
      port: 2525,
      latency: 0,
      maxConnections: 0,
      seed: 1,
    });
  });

  it('parses every flag', () => {
    const config = parseSinkArgs([
      '--port',
      '0',
      '--latency',
      'normal:200ms,50ms',
      '--greeting-delay',
      '1s',
      '--rcpt-delay',
      '20',
      '--max-connections',
      '5',
      '--max-rate',
      '10',
      '--temp-fail',
      '0.1',
      '--perm-fail',
      '0.01',
      '--seed',
      '7',
      '--stats-every',
      '0',
    ]);
    expect(config.options).toMatchObject({
      port: 0,
      latency: { kind: 'normal', meanMs: 200, sdMs: 50 },
      greetingDelayMs: 1000,
      perRecipientDelayMs: 20,
      maxConnections: 5,
      maxMessagesPerSec: 10,
      tempFailRate: 0.1,
      permFailRate: 0.01,
      seed: 7,
    });
    expect(config.statsEveryMs).toBe(0);
  });

  it('names the bad flag', () => {
    expect(() => parseSinkArgs(['--port', 'abc'])).toThrow(/"--port".*not a number/);
    expect(() => parseSinkArgs(['--greeting-delay', 'later'])).toThrow(/"--greeting-delay"/);
    expect(() => parseSinkArgs(['--latency', 'zipf:1'])).toThrow(
      /"--latency".*unknown distribution "zipf"/,
    );
    expect(() => parseSinkArgs(['--colour'])).toThrow(/--colour/);
  });
});
