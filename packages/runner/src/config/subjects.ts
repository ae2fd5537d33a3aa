/**
 * What a cell measures: a variant of the built-in API, a reference target (the original
 * experiment's own stacks, which the harness starts like its API: reference-targets.ts), or an
 * API the harness did not start (`--target URL`), recorded as the subject "external". The runner
 * judges all through the same facts; an external target's are what its contract promises and no
 * more.
 */
import {
  isVariant,
  variantFacts,
  VARIANTS,
  type VariantFacts,
} from '@mailbench/target-api/contract';
import { UsageError } from '../shapes/errors.ts';
import { REFERENCE_NAMES, EXTERNAL, type Runnable, type Subject } from '../shapes/scenario.ts';
import {
  DEBIAN_PYTHON,
  isReference,
  REFERENCE_TARGETS,
  SEED_INSTALL_HINT,
  seedStackMissing,
} from './references.ts';
export const RUNNABLE: readonly Runnable[] = [...VARIANTS, ...REFERENCE_NAMES];

export function isRunnable(name: string): name is Runnable {
  return isVariant(name) || isReference(name);
}

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
  if (subject === EXTERNAL) return EXTERNAL_FACTS;
  return isReference(subject) ? REFERENCE_TARGETS[subject].facts : variantFacts(subject);
}

/**
 * The order of tables and charts: the registry's variants, then the reference targets, then an
 * external target.
 */
export function subjectRank(subject: Subject): number {
  return subject === EXTERNAL ? RUNNABLE.length : RUNNABLE.indexOf(subject);
}

export function isSubject(name: string): name is Subject {
  return name === EXTERNAL || isRunnable(name);
}

/**
 * Something some variants need that this machine may lack (Redis, the seed stack's Python
 * packages).
 */
export interface Requirement {
  needs: (subject: Subject) => boolean;
  available: boolean;
  /** The usage error's code. */
  code: string;
  /** What the variants need, as a clause: "needs a Redis server". */
  need: string;
  /** What is missing, as a clause: "redis-server is not installed". */
  missing: string;
  /** How to get it. */
  hint: string;
}

/**
 * The variants a requirement leaves out where it is not met: asked for by name (`--variants`), a
 * usage error naming the install command; only listed by the scenario, left out, with the line
 * that says so. Where it is met, the variants as they are.
 */
export function withoutWhenMissing(
  variants: readonly Subject[],
  asked: readonly Subject[] | undefined,
  req: Requirement,
): { variants: Subject[]; note: string | null } {
  const needing = variants.filter(req.needs);
  if (req.available || needing.length === 0) return { variants: [...variants], note: null };
  const named = needing.filter((v) => asked?.includes(v));
  if (named.length > 0)
    throw new UsageError(
      req.code,
      `${named.join(', ')} ${req.need} and ${req.missing}; install it with: ${req.hint}`,
    );
  const kept = variants.filter((v) => !needing.includes(v));
  if (kept.length === 0)
    throw new UsageError(
      req.code,
      `every variant of this scenario ${req.need} and ${req.missing}; install it with: ${req.hint}`,
    );
  return {
    variants: kept,
    note: `${needing.join(', ')} left out: ${req.missing} (add it with: ${req.hint})`,
  };
}

/** The variants that need Redis, where there is none (no REDIS_URL, no redis-server). */
export function withoutRedisWhenMissing(
  variants: readonly Subject[],
  asked: readonly Subject[] | undefined,
  redisAvailable: boolean,
  installHint: string,
): { variants: Subject[]; note: string | null } {
  return withoutWhenMissing(variants, asked, {
    needs: (v) => subjectFacts(v).usesRedis,
    available: redisAvailable,
    code: 'ERR_REDIS_NOT_INSTALLED',
    need: 'needs a Redis server',
    missing: 'redis-server is not installed',
    hint: installHint,
  });
}

/**
 * The Flask targets where Debian's python3 lacks the seed stack (`pnpm setup:seed`); the probe runs
 * only when one is listed.
 */
export function withoutSeedStackWhenMissing(
  variants: readonly Subject[],
  asked: readonly Subject[] | undefined,
  missing: () => string[] = seedStackMissing,
): { variants: Subject[]; note: string | null } {
  const needs = (v: Subject) => isReference(v) && REFERENCE_TARGETS[v].stack === 'flask-seed';
  const absent = variants.some(needs) ? missing() : [];
  return withoutWhenMissing(variants, asked, {
    needs,
    available: absent.length === 0,
    code: 'ERR_SEED_STACK_MISSING',
    need: `need${variants.filter(needs).length === 1 ? 's' : ''} Flask, gunicorn, gevent and mongoengine for ${DEBIAN_PYTHON}`,
    missing: `${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not installed there`,
    hint: SEED_INSTALL_HINT,
  });
}
