/**
 * What a cell measures: a variant of the built-in API, or an API the harness did not start
 * (`--target URL`), recorded as the subject "external". The runner judges both through the
 * same facts; an external target's are what its contract promises and no more.
 */
import { isVariant, variantFacts, VARIANTS, type Variant, type VariantFacts } from '@mailbench/target-api/contract';
import { UsageError } from './errors.ts';
import type { Scenario } from './scenario.ts';

export const EXTERNAL = 'external';
export type Subject = Variant | typeof EXTERNAL;

/**
 * An external target owes one e-mail per 201 (the contract) and nothing else is assumed: not
 * delivery (so a loss is a finding, not a broken promise), not single sends, not the moment it
 * sends relative to its reply.
 */
export const EXTERNAL_FACTS: VariantFacts = {
  sendsMail: true,
  promisesDelivery: false,
  mayDuplicate: true,
  repliesAfterSend: false,
  sendsFromThreads: false,
  usesRedis: false,
  summary: 'an API the harness did not start (--target): owes one confirmation e-mail per 201',
};

export function subjectFacts(subject: Subject): VariantFacts {
  return subject === EXTERNAL ? EXTERNAL_FACTS : variantFacts(subject);
}

/** The registry's order (the order of tables and charts), an external target after every variant. */
export function subjectRank(subject: Subject): number {
  return subject === EXTERNAL ? VARIANTS.length : VARIANTS.indexOf(subject);
}

export function isSubject(name: string): name is Subject {
  return name === EXTERNAL || isVariant(name);
}

/** Where the cells of a run go when the harness does not start the API. */
export interface TargetSpec {
  /** Base URL of the API; the sign-up is POST {url}/api/users. */
  url: string;
  /** What its cells are labelled and filed as. */
  label: string;
  /** The database the target writes its users to, for the stored-users check; null: not checked. */
  mongoUri: string | null;
}

/**
 * The variants that need Redis where there is none (no REDIS_URL, no redis-server): asked for by
 * name (`--variants`), a usage error naming the install command; only listed by the scenario,
 * left out, with the line that says so. With Redis, the scenario as it is.
 */
export function withoutRedisWhenMissing(
  scenario: Pick<Scenario, 'variants' | 'aaControl'>,
  asked: readonly Variant[] | undefined,
  redisAvailable: boolean,
  installHint: string,
): { variants: Subject[]; note: string | null } {
  const needing = scenario.variants.filter((v) => subjectFacts(v).usesRedis);
  if (redisAvailable || needing.length === 0) return { variants: scenario.variants, note: null };
  const named = needing.filter((v) => asked?.includes(v as Variant));
  if (named.length > 0) throw new UsageError('ERR_REDIS_NOT_INSTALLED', `${named.join(', ')} needs a Redis server and redis-server is not installed; install it with: ${installHint}`);
  const variants = scenario.variants.filter((v) => !needing.includes(v));
  if (variants.length === 0) throw new UsageError('ERR_REDIS_NOT_INSTALLED', `every variant of this scenario needs Redis; install redis-server with: ${installHint}`);
  return { variants, note: `${needing.join(', ')} left out: redis-server is not installed (add it with: ${installHint})` };
}
