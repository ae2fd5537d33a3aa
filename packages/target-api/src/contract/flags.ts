/**
 * The API process's command line, as one table: `parseServerArgs` reads flags (with MAILBENCH_*
 * environment fallbacks), `toServerCommand` writes them (the runner forks the API with it), and
 * `SERVER_HELP` lists them. A flag added to the table exists in all three at once.
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_OPTIONS,
  OptionError,
  TRANSPORTS,
  type AppInput,
  type TransportMode,
} from './options.ts';
import { VARIANTS, type Variant } from './variants.ts';

/**
 * How to start the API: where it listens, and the app's options (defaults filled by
 * resolveOptions).
 */
export interface ServerLaunch {
  host?: string;
  port?: number;
  app: AppInput;
}

export interface ServerConfig {
  help: boolean;
  host: string;
  port: number;
  app: AppInput;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 3000;

type Value = string | number;

interface FlagDef {
  name: string;
  metavar: string;
  help: string;
  int: boolean;
  /**
   * A credential may be in it: passed to a child in its environment, never on its command line (ps
   * shows that).
   */
  secret?: boolean;
  /** The values the flag accepts, when it is a choice. */
  choices?: readonly string[];
  get(launch: ServerLaunch): Value | undefined;
  set(launch: ServerLaunch, value: Value): void;
}

const D = DEFAULT_OPTIONS;
const smtp = (l: ServerLaunch) => (l.app.smtp ??= {});
const pool = (l: ServerLaunch) => (l.app.workerPool ??= {});
const outbox = (l: ServerLaunch) => (l.app.outbox ??= {});
const agenda = (l: ServerLaunch) => (l.app.agenda ??= {});
const bullmq = (l: ServerLaunch) => (l.app.bullmq ??= {});
const num = (v: Value) => v as number;
const str = (v: Value) => String(v);

function text(
  name: string,
  metavar: string,
  help: string,
  get: FlagDef['get'],
  set: FlagDef['set'],
): FlagDef {
  return { name, metavar, help, int: false, get, set };
}
function int(
  name: string,
  metavar: string,
  help: string,
  get: FlagDef['get'],
  set: FlagDef['set'],
): FlagDef {
  return { name, metavar, help, int: true, get, set };
}

const FLAGS: readonly FlagDef[] = [
  {
    ...text(
      'variant',
      'NAME',
      `${VARIANTS.join(' | ')} (default ${D.variant})`,
      (l) => l.app.variant,
      (l, v) => (l.app.variant = str(v) as Variant),
    ),
    choices: VARIANTS,
  },
  text(
    'host',
    'ADDR',
    `interface to listen on (default ${DEFAULT_HOST})`,
    (l) => l.host,
    (l, v) => (l.host = str(v)),
  ),
  int(
    'port',
    'N',
    `port, 0 picks a free one (default ${DEFAULT_PORT})`,
    (l) => l.port,
    (l, v) => (l.port = num(v)),
  ),
  {
    ...text(
      'mongo-uri',
      'URI',
      'MongoDB to use (or MONGODB_URI; required)',
      (l) => l.app.mongoUri || undefined,
      (l, v) => (l.app.mongoUri = str(v)),
    ),
    secret: true,
  },
  text(
    'db-name',
    'NAME',
    `database name (default ${D.dbName})`,
    (l) => l.app.dbName,
    (l, v) => (l.app.dbName = str(v)),
  ),
  text(
    'smtp-host',
    'HOST',
    `SMTP server (default ${D.smtp.host})`,
    (l) => l.app.smtp?.host,
    (l, v) => (smtp(l).host = str(v)),
  ),
  int(
    'smtp-port',
    'N',
    `SMTP port (default ${D.smtp.port})`,
    (l) => l.app.smtp?.port,
    (l, v) => (smtp(l).port = num(v)),
  ),
  {
    ...text(
      'transport',
      'MODE',
      `${TRANSPORTS.join(' | ')} (default ${D.smtp.transport})`,
      (l) => l.app.smtp?.transport,
      (l, v) => (smtp(l).transport = str(v) as TransportMode),
    ),
    choices: TRANSPORTS,
  },
  int(
    'max-connections',
    'N',
    `SMTP connection budget of the process (worker-pool splits it across its threads; default ${D.smtp.maxConnections})`,
    (l) => l.app.smtp?.maxConnections,
    (l, v) => (smtp(l).maxConnections = num(v)),
  ),
  int(
    'max-messages',
    'N',
    `pooled transport: messages per connection (default ${D.smtp.maxMessages})`,
    (l) => l.app.smtp?.maxMessages,
    (l, v) => (smtp(l).maxMessages = num(v)),
  ),
  int(
    'send-timeout',
    'MS',
    `a send slower than this fails (default ${D.smtp.sendTimeoutMs})`,
    (l) => l.app.smtp?.sendTimeoutMs,
    (l, v) => (smtp(l).sendTimeoutMs = num(v)),
  ),
  int(
    'hash-cost',
    'N',
    `scrypt log2(N), 0 = no hashing (default ${D.hashCost})`,
    (l) => l.app.hashCost,
    (l, v) => (l.app.hashCost = num(v)),
  ),
  int(
    'threads',
    'N',
    `worker-pool: threads (default ${D.workerPool.threads})`,
    (l) => l.app.workerPool?.threads,
    (l, v) => (pool(l).threads = num(v)),
  ),
  int(
    'concurrent-tasks',
    'N',
    `worker-pool: sends per thread at once (default ${D.workerPool.concurrentTasksPerWorker})`,
    (l) => l.app.workerPool?.concurrentTasksPerWorker,
    (l, v) => (pool(l).concurrentTasksPerWorker = num(v)),
  ),
  int(
    'outbox-concurrency',
    'N',
    'outbox: parallel senders (default: --max-connections)',
    (l) => l.app.outbox?.concurrency,
    (l, v) => (outbox(l).concurrency = num(v)),
  ),
  int(
    'lease',
    'MS',
    `outbox: claim lease (default ${D.outbox.leaseMs})`,
    (l) => l.app.outbox?.leaseMs,
    (l, v) => (outbox(l).leaseMs = num(v)),
  ),
  int(
    'poll',
    'MS',
    `outbox: fallback poll interval (default ${D.outbox.pollMs})`,
    (l) => l.app.outbox?.pollMs,
    (l, v) => (outbox(l).pollMs = num(v)),
  ),
  int(
    'max-attempts',
    'N',
    `outbox: attempts before giving up (default ${D.outbox.maxAttempts})`,
    (l) => l.app.outbox?.maxAttempts,
    (l, v) => (outbox(l).maxAttempts = num(v)),
  ),
  int(
    'backoff-base',
    'MS',
    `outbox: first retry delay, doubling (default ${D.outbox.backoffBaseMs})`,
    (l) => l.app.outbox?.backoffBaseMs,
    (l, v) => (outbox(l).backoffBaseMs = num(v)),
  ),
  int(
    'backoff-max',
    'MS',
    `outbox: retry delay cap (default ${D.outbox.backoffMaxMs})`,
    (l) => l.app.outbox?.backoffMaxMs,
    (l, v) => (outbox(l).backoffMaxMs = num(v)),
  ),
  int(
    'agenda-process-every',
    'MS',
    `agenda: how often it looks for due jobs (default ${D.agenda.processEveryMs})`,
    (l) => l.app.agenda?.processEveryMs,
    (l, v) => (agenda(l).processEveryMs = num(v)),
  ),
  int(
    'agenda-concurrency',
    'N',
    'agenda: jobs run at once (default: --max-connections)',
    (l) => l.app.agenda?.concurrency,
    (l, v) => (agenda(l).concurrency = num(v)),
  ),
  int(
    'agenda-lock-lifetime',
    'MS',
    `agenda: job lock, after which another process may run it (default ${D.agenda.lockLifetimeMs})`,
    (l) => l.app.agenda?.lockLifetimeMs,
    (l, v) => (agenda(l).lockLifetimeMs = num(v)),
  ),
  {
    ...text(
      'redis-url',
      'URL',
      'bullmq: the Redis server (or REDIS_URL)',
      (l) => l.app.redisUrl,
      (l, v) => (l.app.redisUrl = str(v)),
    ),
    secret: true,
  },
  int(
    'bullmq-concurrency',
    'N',
    'bullmq: jobs the worker runs at once (default: --max-connections)',
    (l) => l.app.bullmq?.concurrency,
    (l, v) => (bullmq(l).concurrency = num(v)),
  ),
  int(
    'bullmq-attempts',
    'N',
    `bullmq: attempts per job (default ${D.bullmq.attempts})`,
    (l) => l.app.bullmq?.attempts,
    (l, v) => (bullmq(l).attempts = num(v)),
  ),
  int(
    'bullmq-backoff',
    'MS',
    `bullmq: first retry delay, doubling (default ${D.bullmq.backoffMs})`,
    (l) => l.app.bullmq?.backoffMs,
    (l, v) => (bullmq(l).backoffMs = num(v)),
  ),
  int(
    'bullmq-lock',
    'MS',
    `bullmq: job lock and stalled-job check interval (default ${D.bullmq.lockMs})`,
    (l) => l.app.bullmq?.lockMs,
    (l, v) => (bullmq(l).lockMs = num(v)),
  ),
  int(
    'drain-timeout',
    'MS',
    `on SIGTERM, wait this long for e-mails (default ${D.drainTimeoutMs})`,
    (l) => l.app.drainTimeoutMs,
    (l, v) => (l.app.drainTimeoutMs = num(v)),
  ),
  text(
    'public-url',
    'URL',
    "base of the confirmation link (default: http://127.0.0.1:PORT, never the request's Host)",
    (l) => l.app.publicUrl,
    (l, v) => (l.app.publicUrl = str(v)),
  ),
  text(
    'log-level',
    'LEVEL',
    `fastify log level, silent = off (default ${D.logLevel})`,
    (l) => l.app.logLevel,
    (l, v) => (l.app.logLevel = str(v)),
  ),
];

export const SERVER_HELP = `Usage: target-api [options]

The mailbench sign-up API. Every flag can also be set as MAILBENCH_<FLAG> (e.g. MAILBENCH_VARIANT).

${FLAGS.map((f) => `  ${`--${f.name} ${f.metavar}`.padEnd(26)}${f.help}`).join('\n')}
  ${'-h, --help'.padEnd(26)}show this help

When forked, sends { type: 'ready', port, variant, pid } over IPC once listening, and
{ type: 'shutdown', drained, abandoned } once its e-mails are drained.
SIGTERM/SIGINT: stop accepting, finish requests, drain e-mails, report, exit.
`;

/** A flag's environment variable: MAILBENCH_<FLAG>. */
function envName(flag: FlagDef): string {
  return `MAILBENCH_${flag.name.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * How to start the API with these options (only the values that are set): flags on the command
 * line, and the secret ones (connection strings, which may hold a password) in the environment.
 */
export function toServerCommand(launch: ServerLaunch): {
  args: string[];
  env: Record<string, string>;
} {
  const args: string[] = [];
  const env: Record<string, string> = {};
  for (const flag of FLAGS) {
    const value = flag.get(launch);
    if (value === undefined) continue;
    if (flag.secret) env[envName(flag)] = String(value);
    else args.push(`--${flag.name}`, String(value));
  }
  return { args, env };
}

function parseValue(flag: FlagDef, text: string): Value {
  if (flag.choices && !flag.choices.includes(text))
    throw new OptionError(
      `--${flag.name} must be one of ${flag.choices.join(', ')}, got "${text}"`,
    );
  if (!flag.int) return text;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n))
    throw new OptionError(`--${flag.name} must be a whole number, got "${text}"`);
  return n;
}

/**
 * Reads the command line (and MAILBENCH_* variables); validation of the values is resolveOptions'.
 */
export function parseServerArgs(argv: string[], env: NodeJS.ProcessEnv = {}): ServerConfig {
  const args = [...argv];
  while (args[0] === '--') args.shift();
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(FLAGS.map((f) => [f.name, { type: 'string' as const }])),
      help: { type: 'boolean', short: 'h' },
    },
  });
  const launch: ServerLaunch = {
    app: { mongoUri: env.MONGODB_URI ?? '', ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}) },
  };
  for (const flag of FLAGS) {
    const text = (values as Record<string, string | undefined>)[flag.name] ?? env[envName(flag)];
    if (text !== undefined) flag.set(launch, parseValue(flag, text));
  }
  const port = launch.port ?? DEFAULT_PORT;
  if (port < 0 || port > 65535) throw new OptionError(`--port must be 0-65535, got ${port}`);
  return { help: values.help === true, host: launch.host ?? DEFAULT_HOST, port, app: launch.app };
}
