/** Flags of server.ts, with MAILBENCH_* environment fallbacks. A pure function, tested without a process. */
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, OptionError, TRANSPORTS, VARIANTS, type AppInput, type TransportMode, type Variant } from './options.ts';

const D = DEFAULT_OPTIONS;

export const SERVER_HELP = `Usage: target-api [options]

The mailbench sign-up API. Every flag can also be set as MAILBENCH_<FLAG> (e.g. MAILBENCH_VARIANT).

  --variant NAME            ${VARIANTS.join(' | ')}          (default ${D.variant})
  --host ADDR               interface to listen on                       (default 127.0.0.1)
  --port N                  port, 0 picks a free one                     (default 3000)
  --mongo-uri URI           MongoDB to use (or MONGODB_URI)              (required)
  --db-name NAME            database name                                (default ${D.dbName})
  --smtp-host HOST          SMTP server                                  (default ${D.smtp.host})
  --smtp-port N             SMTP port                                    (default ${D.smtp.port})
  --transport MODE          ${TRANSPORTS.join(' | ')}                        (default ${D.smtp.transport})
  --max-connections N       pooled transport: connections                (default ${D.smtp.maxConnections})
  --max-messages N          pooled transport: messages per connection    (default ${D.smtp.maxMessages})
  --send-timeout MS         a send slower than this fails                (default ${D.smtp.sendTimeoutMs})
  --hash-cost N             scrypt log2(N), 0 = no hashing               (default ${D.hashCost})
  --threads N               worker-pool: threads                         (default ${D.workerPool.threads})
  --concurrent-tasks N      worker-pool: sends per thread at once        (default ${D.workerPool.concurrentTasksPerWorker})
  --outbox-concurrency N    outbox: parallel senders                     (default ${D.outbox.concurrency})
  --lease MS                outbox: claim lease                          (default ${D.outbox.leaseMs})
  --poll MS                 outbox: fallback poll interval               (default ${D.outbox.pollMs})
  --max-attempts N          outbox: attempts before giving up            (default ${D.outbox.maxAttempts})
  --backoff-base MS         outbox: first retry delay (doubles)          (default ${D.outbox.backoffBaseMs})
  --backoff-max MS          outbox: retry delay cap                      (default ${D.outbox.backoffMaxMs})
  --drain-timeout MS        on SIGTERM, wait this long for e-mails       (default ${D.drainTimeoutMs})
  --public-url URL          base of the confirmation link                (default: from the request)
  --log-level LEVEL         fastify log level, silent = off              (default ${D.logLevel})
  -h, --help                show this help

When forked, sends { type: 'ready', port, variant, pid } over IPC once listening.
SIGTERM/SIGINT: stop accepting, finish requests, drain e-mails, report, exit.
`;

const STRING_FLAGS = [
  'variant', 'host', 'port', 'mongo-uri', 'db-name', 'smtp-host', 'smtp-port', 'transport', 'max-connections',
  'max-messages', 'send-timeout', 'hash-cost', 'threads', 'concurrent-tasks', 'outbox-concurrency', 'lease', 'poll',
  'max-attempts', 'backoff-base', 'backoff-max', 'drain-timeout', 'public-url', 'log-level',
] as const;
type Flag = (typeof STRING_FLAGS)[number];

export interface ServerConfig {
  help: boolean;
  host: string;
  port: number;
  app: AppInput;
}

export function parseServerArgs(argv: string[], env: NodeJS.ProcessEnv = {}): ServerConfig {
  const args = [...argv];
  while (args[0] === '--') args.shift();
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(STRING_FLAGS.map((f) => [f, { type: 'string' as const }])),
      help: { type: 'boolean', short: 'h' },
    },
  });
  const get = (flag: Flag): string | undefined => {
    const value = (values as Record<string, string | undefined>)[flag];
    return value ?? env[`MAILBENCH_${flag.toUpperCase().replaceAll('-', '_')}`];
  };
  const int = (flag: Flag, fallback: number): number => {
    const text = get(flag);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n)) throw new OptionError(`--${flag} must be a whole number, got "${text}"`);
    return n;
  };
  const variant = (get('variant') ?? D.variant) as Variant;
  if (!VARIANTS.includes(variant)) throw new OptionError(`--variant must be one of ${VARIANTS.join(', ')}, got "${variant}"`);
  const transport = (get('transport') ?? D.smtp.transport) as TransportMode;
  if (!TRANSPORTS.includes(transport)) throw new OptionError(`--transport must be one of ${TRANSPORTS.join(', ')}, got "${transport}"`);
  const port = int('port', 3000);
  if (port < 0 || port > 65535) throw new OptionError(`--port must be 0-65535, got ${port}`);
  const maxConnections = int('max-connections', D.smtp.maxConnections);
  const app: ServerConfig['app'] = {
    variant,
    mongoUri: get('mongo-uri') ?? env.MONGODB_URI ?? '',
    dbName: get('db-name') ?? D.dbName,
    smtp: {
      host: get('smtp-host') ?? D.smtp.host,
      port: int('smtp-port', D.smtp.port),
      transport,
      maxConnections,
      maxMessages: int('max-messages', D.smtp.maxMessages),
      sendTimeoutMs: int('send-timeout', D.smtp.sendTimeoutMs),
    },
    hashCost: int('hash-cost', D.hashCost),
    workerPool: { threads: int('threads', D.workerPool.threads), concurrentTasksPerWorker: int('concurrent-tasks', D.workerPool.concurrentTasksPerWorker) },
    outbox: {
      concurrency: int('outbox-concurrency', maxConnections),
      leaseMs: int('lease', D.outbox.leaseMs),
      pollMs: int('poll', D.outbox.pollMs),
      maxAttempts: int('max-attempts', D.outbox.maxAttempts),
      backoffBaseMs: int('backoff-base', D.outbox.backoffBaseMs),
      backoffMaxMs: int('backoff-max', D.outbox.backoffMaxMs),
    },
    drainTimeoutMs: int('drain-timeout', D.drainTimeoutMs),
    logLevel: get('log-level') ?? D.logLevel,
  };
  const publicUrl = get('public-url');
  if (publicUrl !== undefined) app.publicUrl = publicUrl;
  return { help: values.help === true, host: get('host') ?? '127.0.0.1', port, app };
}
