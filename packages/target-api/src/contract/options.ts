/**
 * Everything the sign-up API can be started with, its defaults (written once, here), and their
 * validation.
 */
import { isVariant, VARIANT_FACTS, VARIANTS, type Variant } from './variants.ts';

export const TRANSPORTS = ['pooled', 'per-message'] as const;
export type TransportMode = (typeof TRANSPORTS)[number];

export interface SmtpOptions {
  host: string;
  port: number;
  /** `pooled` keeps `maxConnections` connections open; `per-message` opens one per e-mail. */
  transport: TransportMode;
  /** nodemailer's default is 5. */
  maxConnections: number;
  /** Messages per pooled connection before it is recycled; nodemailer's default is 100. */
  maxMessages: number;
  /** A send that has not finished after this long counts as failed. */
  sendTimeoutMs: number;
}

export interface WorkerPoolOptions {
  threads: number;
  /** piscina's default of 1 starves I/O work: each thread then sends one e-mail at a time. */
  concurrentTasksPerWorker: number;
}

export interface OutboxOptions {
  /** Parallel senders of the dispatcher; when not given, the SMTP pool size. */
  concurrency: number;
  /** How long a claim holds before another dispatcher may take the e-mail over. */
  leaseMs: number;
  /** Fallback poll interval; new sign-ups wake the dispatcher at once. */
  pollMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * Agenda (npm agenda 6 with @agendajs/mongo-backend): its jobs live in the API's own database.
 * Retries follow Agenda's `backoffStrategies.standard()` preset (1 s doubling, 5 retries, 10 %
 * jitter).
 */
export interface AgendaOptions {
  /** How often Agenda looks for due jobs; its default is 5 s. With MongoDB it only polls. */
  processEveryMs: number;
  /** Jobs run at once by this process; when not given, the SMTP connection budget. */
  concurrency: number;
  /**
   * How long a job's lock holds before another process may run it again; Agenda's default is 10
   * min.
   */
  lockLifetimeMs: number;
}

/** BullMQ on Redis; the job id is the registration id. */
export interface BullmqOptions {
  /**
   * Jobs the in-process worker runs at once (BullMQ's default is 1); when not given, the SMTP
   * connection budget.
   */
  concurrency: number;
  /** Attempts per job, the first included (BullMQ's default is 1: no retry). */
  attempts: number;
  /** First retry delay, doubling (BullMQ's exponential backoff). */
  backoffMs: number;
  /**
   * The worker's job lock and its stalled-job check interval (BullMQ's defaults: 30 s each): a job
   * held by a process that died runs again after one to two of these.
   */
  lockMs: number;
}

export interface AppOptions {
  variant: Variant;
  mongoUri: string;
  dbName: string;
  smtp: SmtpOptions;
  /** scrypt cost as log2(N); 14 means N = 16384. 0 turns hashing off. */
  hashCost: number;
  workerPool: WorkerPoolOptions;
  outbox: OutboxOptions;
  agenda: AgendaOptions;
  bullmq: BullmqOptions;
  /** The Redis server of the bullmq variant (redis://host:port). */
  redisUrl?: string;
  /** On shutdown, how long to wait for e-mails in flight before abandoning them. */
  drainTimeoutMs: number;
  /** fastify log level; 'silent' (the default) logs nothing. */
  logLevel: string;
  /** Base of the confirmation link; by default taken from the request's Host. */
  publicUrl?: string;
  /** Sender of the confirmation e-mail. */
  mailFrom: string;
}

export const DEFAULT_OPTIONS: Omit<AppOptions, 'mongoUri'> = {
  variant: 'inline',
  dbName: 'mailbench',
  smtp: {
    host: '127.0.0.1',
    port: 2525,
    transport: 'pooled',
    maxConnections: 5,
    maxMessages: 100,
    sendTimeoutMs: 30_000,
  },
  hashCost: 14,
  workerPool: { threads: 2, concurrentTasksPerWorker: 16 },
  outbox: {
    concurrency: 5,
    leaseMs: 30_000,
    pollMs: 1000,
    maxAttempts: 5,
    backoffBaseMs: 500,
    backoffMaxMs: 30_000,
  },
  agenda: { processEveryMs: 5000, concurrency: 5, lockLifetimeMs: 600_000 },
  // Six attempts, 1 s doubling: the same retry schedule as Agenda's standard preset, so the two
  // libraries retry alike.
  bullmq: { concurrency: 5, attempts: 6, backoffMs: 1000, lockMs: 30_000 },
  drainTimeoutMs: 10_000,
  logLevel: 'silent',
  mailFrom: 'mailbench <noreply@mailbench.test>',
};

export class OptionError extends Error {
  readonly code = 'ERR_API_OPTION_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

function positiveInt(name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min)
    throw new OptionError(`${name} must be a whole number >= ${min}, got ${value}`);
}

/** What a caller gives: any field, nested ones partially; mongoUri is required. */
export type AppInput = Omit<
  Partial<AppOptions>,
  'smtp' | 'workerPool' | 'outbox' | 'agenda' | 'bullmq'
> & {
  mongoUri: string;
  smtp?: Partial<SmtpOptions>;
  workerPool?: Partial<WorkerPoolOptions>;
  outbox?: Partial<OutboxOptions>;
  agenda?: Partial<AgendaOptions>;
  bullmq?: Partial<BullmqOptions>;
};

/** Fills defaults and checks every field, naming the bad one. */
/**
 * One thread's share of a connection budget split across threads, as evenly as whole
 * connections allow: 5 over 2 threads gives slot 0 three and slot 1 two.
 */
export function connectionShare(budget: number, threads: number, slot: number): number {
  return Math.floor(budget / threads) + (slot < budget % threads ? 1 : 0);
}

export function resolveOptions(input: AppInput): AppOptions {
  const options: AppOptions = {
    ...DEFAULT_OPTIONS,
    ...input,
    smtp: { ...DEFAULT_OPTIONS.smtp, ...input.smtp },
    workerPool: { ...DEFAULT_OPTIONS.workerPool, ...input.workerPool },
    outbox: { ...DEFAULT_OPTIONS.outbox, ...input.outbox },
    agenda: { ...DEFAULT_OPTIONS.agenda, ...input.agenda },
    bullmq: { ...DEFAULT_OPTIONS.bullmq, ...input.bullmq },
  };
  // The senders of the outbox and the queues follow the connection budget unless set on their own.
  if (input.outbox?.concurrency === undefined)
    options.outbox.concurrency = options.smtp.maxConnections;
  if (input.agenda?.concurrency === undefined)
    options.agenda.concurrency = options.smtp.maxConnections;
  if (input.bullmq?.concurrency === undefined)
    options.bullmq.concurrency = options.smtp.maxConnections;
  if (!isVariant(String(options.variant))) {
    throw new OptionError(
      `variant must be one of ${VARIANTS.join(', ')}, got "${String(options.variant)}"`,
    );
  }
  if (!TRANSPORTS.includes(options.smtp.transport)) {
    throw new OptionError(
      `smtp.transport must be one of ${TRANSPORTS.join(', ')}, got "${String(options.smtp.transport)}"`,
    );
  }
  if (!options.mongoUri)
    throw new OptionError('mongoUri is required (flag --mongo-uri or MONGODB_URI)');
  positiveInt('smtp.port', options.smtp.port);
  positiveInt('smtp.maxConnections', options.smtp.maxConnections);
  positiveInt('smtp.maxMessages', options.smtp.maxMessages);
  positiveInt('smtp.sendTimeoutMs', options.smtp.sendTimeoutMs);
  if (
    !Number.isInteger(options.hashCost) ||
    options.hashCost < 0 ||
    options.hashCost > 20 ||
    options.hashCost === 1
  ) {
    throw new OptionError(
      `hashCost must be 0 (off) or 2-20 (log2 of scrypt's N), got ${options.hashCost}`,
    );
  }
  positiveInt('workerPool.threads', options.workerPool.threads);
  positiveInt('workerPool.concurrentTasksPerWorker', options.workerPool.concurrentTasksPerWorker);
  if (
    VARIANT_FACTS[options.variant].sendsFromThreads &&
    options.workerPool.threads > options.smtp.maxConnections
  ) {
    throw new OptionError(
      `${options.variant}: ${options.workerPool.threads} threads cannot share ${options.smtp.maxConnections} SMTP connections (each thread needs one); use fewer threads or more connections`,
    );
  }
  positiveInt('outbox.concurrency', options.outbox.concurrency);
  positiveInt('outbox.leaseMs', options.outbox.leaseMs);
  positiveInt('outbox.pollMs', options.outbox.pollMs);
  positiveInt('outbox.maxAttempts', options.outbox.maxAttempts);
  positiveInt('outbox.backoffBaseMs', options.outbox.backoffBaseMs);
  positiveInt('outbox.backoffMaxMs', options.outbox.backoffMaxMs);
  positiveInt('agenda.processEveryMs', options.agenda.processEveryMs);
  positiveInt('agenda.concurrency', options.agenda.concurrency);
  positiveInt('agenda.lockLifetimeMs', options.agenda.lockLifetimeMs);
  positiveInt('bullmq.concurrency', options.bullmq.concurrency);
  positiveInt('bullmq.attempts', options.bullmq.attempts);
  positiveInt('bullmq.backoffMs', options.bullmq.backoffMs);
  positiveInt('bullmq.lockMs', options.bullmq.lockMs);
  if (VARIANT_FACTS[options.variant].usesRedis && !options.redisUrl)
    throw new OptionError(
      `${options.variant} needs a Redis server: --redis-url redis://host:port (or REDIS_URL)`,
    );
  if (options.redisUrl !== undefined && !/^rediss?:\/\//.test(options.redisUrl))
    throw new OptionError(
      `redisUrl must start with redis:// or rediss://, got "${options.redisUrl}"`,
    );
  positiveInt('drainTimeoutMs', options.drainTimeoutMs, 0);
  return options;
}
