/**
 * What a run opens once and every trial shares: the database (none with --target), the runner's
 * client of the trials' databases, the SMTP sink, and Redis for the variants that need one.
 */
import { MongoClient } from 'mongodb';
import { MongoStartError, startMongo, type MongoHandle } from '@mailbench/mongo';
import { startRedis, RedisStartError, type RedisHandle } from '@mailbench/redis';
import { startSmtpSink, type SmtpSink } from '@mailbench/smtp-sink';
import type { SignupNames } from '../config/requests.ts';
import { subjectFacts } from '../config/subjects.ts';
import { UsageError } from '../shapes/errors.ts';
import type { MongoEngineChoice, Scenario } from '../shapes/scenario.ts';
import { releaseDir, releaseProcess, watchDir, watchProcess } from './watchdog.ts';
import type { RunInfo } from '../shapes/run.ts';

/**
 * What the services are opened from: the scenario, the database asked for, where the sink listens.
 */
export interface ServicesPlan {
  scenario: Scenario;
  mongoEngine: MongoEngineChoice;
  mongoUri: string | null;
  /** Where the SMTP sink listens; absent or null: 127.0.0.1 and a free port. */
  sink?: { host: string | null; port: number | null };
}

/**
 * Opened once per run: the database (none with --target), the runner's client of the cells'
 * database (its own, or the target's when --target-mongo-uri is given), and the SMTP sink.
 */
export interface Services {
  database: MongoHandle | null;
  client: MongoClient | null;
  sink: SmtpSink;
  /**
   * The Redis of the variants that need one (REDIS_URL or a redis-server of the run's own); null
   * when none does.
   */
  redis: RedisHandle | null;
  /** Who the run's sign-ups are. */
  names: SignupNames;
}

/**
 * Opens each service into `opened` as it starts, so that stopServices(opened) closes what a failure
 * left open.
 */
export async function startServices(
  plan: ServicesPlan,
  log: (line: string) => void,
  opened: Partial<Services>,
): Promise<Services> {
  const { scenario } = plan;
  if (scenario.target) {
    opened.database = null;
    opened.client = scenario.target.mongoUri
      ? await connectTargetDb(scenario.target.mongoUri)
      : null;
  } else {
    opened.database = await startMongo({
      engine: plan.mongoEngine,
      ...(plan.mongoUri ? { uri: plan.mongoUri } : {}),
      log,
    }).catch((err: unknown) => {
      // Nothing is measured without a database: a start-up error the user can act on.
      if (!(err instanceof MongoStartError)) throw err;
      const fallback =
        plan.mongoEngine === 'mongod'
          ? " Or leave --mongo at auto (the default), which uses mailbench's stand-in where there is no mongod."
          : '';
      throw new UsageError(err.code, `${err.message}${fallback}`);
    });
    watchProcess(opened.database.pid);
    opened.client = new MongoClient(opened.database.uri, { maxPoolSize: 5 });
    await opened.client.connect();
  }
  opened.sink = await startSmtpSink({
    host: plan.sink?.host ?? '127.0.0.1',
    port: plan.sink?.port ?? 0,
    latency: scenario.smtp.latency,
    greetingDelayMs: scenario.smtp.greetingDelayMs,
    maxConnections: scenario.smtp.maxConnections,
    maxMessagesPerSec: scenario.smtp.maxMessagesPerSec,
    tempFailRate: scenario.smtp.tempFailRate,
    permFailRate: scenario.smtp.permFailRate,
    seed: scenario.smtp.seed,
  });
  opened.redis = null;
  if (!scenario.target && scenario.variants.some((v) => subjectFacts(v).usesRedis)) {
    try {
      opened.redis = await startRedis({
        onSpawn: ({ pid, dir }) => {
          watchProcess(pid);
          watchDir(dir);
        },
      });
    } catch (err) {
      if (err instanceof RedisStartError) throw new UsageError(err.code, err.message);
      throw err;
    }
    const p = opened.redis.persistence;
    log(
      `redis ${opened.redis.version} (${opened.redis.engine}) at ${opened.redis.url}${p ? `: appendonly ${p.appendonly}, appendfsync ${p.appendfsync}, maxmemory-policy ${p.maxmemoryPolicy}` : ''}`,
    );
  }
  return opened as Services;
}

async function connectTargetDb(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { maxPoolSize: 2, serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    await client.db().command({ ping: 1 });
  } catch (err) {
    await client.close().catch(() => {});
    throw new UsageError(
      'ERR_TARGET_DB',
      `--target-mongo-uri: cannot reach the target's database ${redactUri(uri)} (${(err as Error).message})`,
    );
  }
  return client;
}

/**
 * Which database served the cells: the one the harness started, or an external target's (its
 * version when known).
 */
export async function databaseRecord(services: Services): Promise<RunInfo['database']> {
  if (services.database)
    return { engine: services.database.engine, version: services.database.version };
  if (!services.client) return { engine: 'external', version: 'unknown' };
  const info = await services.client
    .db()
    .admin()
    .command({ buildInfo: 1 })
    .catch(() => null);
  return {
    engine: 'external',
    version: typeof info?.version === 'string' ? info.version : 'unknown',
  };
}

export async function stopServices(opened: Partial<Services>): Promise<void> {
  await opened.client?.close().catch(() => {});
  await opened.sink?.close().catch(() => {});
  await opened.redis?.stop().catch(() => {});
  releaseProcess(opened.redis?.pid);
  releaseDir(opened.redis?.dir);
  await opened.database?.stop().catch(() => {});
  releaseProcess(opened.database?.pid);
}

/**
 * A text with the credentials of every connection string in it masked, for the record. The
 * credentials end at the last '@' of the string (a password may hold an unescaped '@').
 */
export function redactUri(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)\S*@/gi, '$1***@');
}
