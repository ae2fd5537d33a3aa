/**
 * The variant registry: every e-mail strategy the API can run, and what each promises. Pure
 * data, read by the API (which strategy to build) and by the runner (how to judge a cell).
 * A new variant is one entry here, one strategy file, and whatever the compiler then asks for:
 * every per-variant table elsewhere `satisfies Record<Variant, …>`.
 */

export interface VariantFacts {
  /** Whether the variant sends a confirmation e-mail at all. */
  sendsMail: boolean;
  /**
   * Every 201 is followed by its e-mail in a run without faults: the reply waits for the send,
   * or the e-mail is stored durably before the reply. A loss from such a variant is a broken
   * promise.
   */
  promisesDelivery: boolean;
  /**
   * At-least-once delivery: an e-mail may arrive twice (a send retried after a crash or a lost
   * acknowledgement).
   */
  mayDuplicate: boolean;
  /**
   * The reply waits for the SMTP send, so replies queue behind the connections when mail is slow.
   */
  repliesAfterSend: boolean;
  /**
   * Sends from worker threads, which share the process's SMTP connection budget (each needs one).
   */
  sendsFromThreads: boolean;
  /** Needs a Redis server (the run starts one, or takes REDIS_URL). */
  usesRedis: boolean;
  /** What the sign-up handler does with the e-mail, in one line. */
  summary: string;
}

export const VARIANT_FACTS = {
  'no-email': {
    sendsMail: false,
    promisesDelivery: false,
    mayDuplicate: false,
    repliesAfterSend: false,
    sendsFromThreads: false,
    usesRedis: false,
    summary: 'stores the user and sends nothing (the baseline)',
  },
  inline: {
    sendsMail: true,
    promisesDelivery: true,
    mayDuplicate: false,
    repliesAfterSend: true,
    sendsFromThreads: false,
    usesRedis: false,
    summary: 'stores the user, then awaits the SMTP send before replying',
  },
  background: {
    sendsMail: true,
    promisesDelivery: false,
    mayDuplicate: false,
    repliesAfterSend: false,
    sendsFromThreads: false,
    usesRedis: false,
    summary: 'replies, then sends on the main thread without awaiting it (in memory)',
  },
  'worker-pool': {
    sendsMail: true,
    promisesDelivery: false,
    mayDuplicate: false,
    repliesAfterSend: false,
    sendsFromThreads: true,
    usesRedis: false,
    summary: 'replies, then worker threads (piscina) send (in memory)',
  },
  outbox: {
    sendsMail: true,
    promisesDelivery: true,
    mayDuplicate: true,
    repliesAfterSend: false,
    sendsFromThreads: false,
    usesRedis: false,
    summary:
      'stores the user with a pending e-mail; a dispatcher claims, sends and marks it (durable)',
  },
  agenda: {
    sendsMail: true,
    // The reply waits for the job's insert into MongoDB; a job locked by a killed process runs
    // again once its lock expires.
    promisesDelivery: true,
    mayDuplicate: true,
    repliesAfterSend: false,
    sendsFromThreads: false,
    usesRedis: false,
    summary: 'stores the user, schedules a send job with Agenda (jobs in MongoDB, polled)',
  },
  bullmq: {
    sendsMail: true,
    // The reply waits for the job's write to Redis (AOF, fsync every second); a job a killed worker
    // held is stalled and runs again.
    promisesDelivery: true,
    mayDuplicate: true,
    repliesAfterSend: false,
    sendsFromThreads: false,
    usesRedis: true,
    summary: 'stores the user, adds a send job to a BullMQ queue (jobs in Redis, blocking pop)',
  },
  'bullmq-worker': {
    sendsMail: true,
    // As bullmq; the worker is a process of its own, which finishes the jobs it holds when its API
    // dies.
    promisesDelivery: true,
    mayDuplicate: true,
    repliesAfterSend: false,
    sendsFromThreads: false,
    usesRedis: true,
    summary: 'as bullmq, with the worker in a process of its own (how BullMQ is deployed)',
  },
} as const satisfies Record<string, VariantFacts>;

export type Variant = keyof typeof VARIANT_FACTS;

/** Every variant, in the registry's order (the order of tables and charts). */
export const VARIANTS = Object.keys(VARIANT_FACTS) as Variant[];

export function isVariant(name: string): name is Variant {
  return Object.hasOwn(VARIANT_FACTS, name);
}

export function variantFacts(variant: Variant): VariantFacts {
  return VARIANT_FACTS[variant];
}
