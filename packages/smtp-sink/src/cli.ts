/**
 * Runs the sink alone so that any application, in any language, can be pointed at it:
 *   pnpm --filter @mailbench/smtp-sink start -- --port 2525 --latency 500ms
 */
import { parseArgs } from 'node:util';
import { describeLatency, parseDurationMs, parseLatency, SinkOptionError } from './latency.ts';
import { startSmtpSink, type SinkStats, type SmtpSinkOptions } from './sink.ts';

export const SINK_HELP = `Usage: smtp-sink [options]

A fake SMTP server that accepts, counts and delays mail. No auth, no TLS.

Options:
  --host ADDR              interface to listen on            (default 127.0.0.1)
  --port N                 port, 0 picks a free one          (default 2525)
  --latency SPEC           delay before accepting each message (default 0)
                           500ms | uniform:100ms-300ms | normal:200ms,50ms | lognormal:200ms,2s
  --greeting-delay DUR     delay before the 220 greeting       (default 100ms)
  --rcpt-delay DUR         delay per RCPT TO                 (default 0)
  --max-connections N      simultaneous connections, then 421 (default 0 = no limit)
  --max-rate N             messages per second, then 451     (default 0 = no limit)
  --temp-fail SHARE        share of messages refused with 451 (default 0)
  --perm-fail SHARE        share of messages refused with 550 (default 0)
  --seed N                 seed of latency and fault draws   (default 1)
  --stats-every DUR        how often to print stats to stderr (default 5s, 0 = never)
  -h, --help               show this help

Stats go to stderr; stop with Ctrl-C (final stats are printed).
`;

export interface SinkCliConfig {
  options: SmtpSinkOptions;
  statsEveryMs: number;
  help: boolean;
}

function toNumber(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new SinkOptionError(flag, `"${text}" is not a number`);
  }
  return value;
}

function toDuration(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = parseDurationMs(text);
  if (!Number.isFinite(value))
    throw new SinkOptionError(flag, `"${text}" is not a duration (e.g. 500ms, 2s)`);
  return value;
}

/** Pure: turns argv into sink options, throwing SinkOptionError naming the flag. */
export function parseSinkArgs(argv: string[]): SinkCliConfig {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      latency: { type: 'string' },
      'greeting-delay': { type: 'string' },
      'rcpt-delay': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-rate': { type: 'string' },
      'temp-fail': { type: 'string' },
      'perm-fail': { type: 'string' },
      seed: { type: 'string' },
      'stats-every': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const options: SmtpSinkOptions = {
    host: values.host ?? '127.0.0.1',
    port: toNumber('--port', values.port, 2525),
    latency: values.latency === undefined ? 0 : parseLatency(values.latency, '--latency'),
    greetingDelayMs: toDuration('--greeting-delay', values['greeting-delay'], 100),
    perRecipientDelayMs: toDuration('--rcpt-delay', values['rcpt-delay'], 0),
    maxConnections: toNumber('--max-connections', values['max-connections'], 0),
    maxMessagesPerSec: toNumber('--max-rate', values['max-rate'], 0),
    tempFailRate: toNumber('--temp-fail', values['temp-fail'], 0),
    permFailRate: toNumber('--perm-fail', values['perm-fail'], 0),
    seed: toNumber('--seed', values.seed, 1),
  };
  return {
    options,
    statsEveryMs: toDuration('--stats-every', values['stats-every'], 5000),
    help: values.help ?? false,
  };
}

export function formatStats(s: SinkStats): string {
  const rejected = Object.entries(s.messages.rejectedByCode)
    .map(([code, n]) => `${code}:${n}`)
    .join(' ');
  return (
    `accepted ${s.messages.accepted}, rejected ${s.messages.rejected}${rejected ? ` (${rejected})` : ''}, ` +
    `in progress ${s.messages.inProgress}, registrations ${s.registrations}, duplicates ${s.duplicates}, ` +
    `unattributed ${s.unattributed}, connections ${s.connections.active} open / ${s.connections.total} total ` +
    `(max ${s.connections.maxActive}, refused ${s.connections.refused})`
  );
}

async function main(): Promise<void> {
  let config: SinkCliConfig;
  try {
    // pnpm passes the `--` that separates its own flags from the script's.
    const argv = process.argv.slice(2);
    while (argv[0] === '--') argv.shift();
    config = parseSinkArgs(argv);
  } catch (err) {
    process.stderr.write(`smtp-sink: ${(err as Error).message}\n\n${SINK_HELP}`);
    process.exit(2);
  }
  if (config.help) {
    process.stdout.write(SINK_HELP);
    return;
  }
  const sink = await startSmtpSink(config.options);
  process.stdout.write(
    `smtp-sink listening on ${sink.host}:${sink.port} (latency ${describeLatency(sink.latency)})\n`,
  );
  const timer =
    config.statsEveryMs > 0
      ? setInterval(
          () => process.stderr.write(`[smtp-sink] ${formatStats(sink.stats())}\n`),
          config.statsEveryMs,
        )
      : undefined;
  const stop = async () => {
    if (timer) clearInterval(timer);
    process.stderr.write(`[smtp-sink] final: ${formatStats(sink.stats())}\n`);
    await sink.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`smtp-sink: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
