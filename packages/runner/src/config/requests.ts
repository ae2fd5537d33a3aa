/**
 * The requests a cell sends: unique sign-ups, and the malformed ones of the bad-input fault.
 * Every sign-up of a run carries the run's tag (in the username and the address), so a run
 * against a database that outlives it (an external target) never collides with an earlier run,
 * and an e-mail is matched to its request by the address it was sent to.
 */
import { randomBytes } from 'node:crypto';
import type { RequestSpec } from '@mailbench/loadgen';

export const PASSWORD = 'mailbench-password-1';

export const BAD_INPUT_KINDS = [
  'malformed-json',
  'oversized',
  'wrong-content-type',
  'invalid-fields',
  'duplicate',
] as const;
export type BadInputKind = (typeof BAD_INPUT_KINDS)[number];
export const BAD_INPUT_STATUS: Record<BadInputKind, number> = {
  'malformed-json': 400,
  oversized: 413,
  'wrong-content-type': 415,
  'invalid-fields': 400,
  duplicate: 409,
};

/** A fresh run tag: six lowercase hex digits (fits the API's username pattern). */
export function newRunTag(): string {
  return randomBytes(3).toString('hex');
}

/** The sign-ups of one run: who request i of the warm-up ('w') or of the schedule ('u') is. */
export class SignupNames {
  readonly tag: string;
  private readonly recipient: RegExp;

  constructor(tag: string) {
    if (!/^[a-z0-9]{1,16}$/.test(tag))
      throw new Error(`a run tag is 1-16 lowercase letters or digits, got ${JSON.stringify(tag)}`);
    this.tag = tag;
    this.recipient = new RegExp(`^u(\\d+)\\.${tag}@example\\.test$`);
  }

  /**
   * The names of one cell or step of the run (each needs its own users: an external database is not
   * dropped between them).
   */
  forCell(key: string): SignupNames {
    return new SignupNames(`${this.tag}x${key}`);
  }

  username(prefix: 'w' | 'u', i: number): string {
    return `mb_${this.tag}_${prefix}${i}`;
  }

  /**
   * A filter on the users collection for this run's warm-up or measured sign-ups: a range of
   * usernames (every engine and the stand-in answer it, and the unique index serves it).
   */
  usersFilter(prefix: 'w' | 'u'): { username: { $gte: string; $lt: string } } {
    const start = `mb_${this.tag}_${prefix}`;
    return { username: { $gte: start, $lt: `${start}\uffff` } };
  }

  email(prefix: 'w' | 'u', i: number): string {
    return `${prefix}${i}.${this.tag}@example.test`;
  }

  /** A regular expression source matching every address of this run's measured sign-ups. */
  measuredAddressPattern(): string {
    return this.recipient.source;
  }

  /** Sign-up i: a user of its own. */
  signup(prefix: 'w' | 'u', i: number): RequestSpec {
    return {
      method: 'POST',
      path: '/api/users',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: this.username(prefix, i),
        email: this.email(prefix, i),
        password: PASSWORD,
      }),
    };
  }

  /** The measured request index an e-mail was sent to, or null (warm-up, another run, unknown). */
  indexOf(address: string): number | null {
    const m = this.recipient.exec(address);
    return m ? Number(m[1]) : null;
  }

  bad(kind: BadInputKind, i: number): RequestSpec {
    const json = { 'content-type': 'application/json' };
    const username = this.username('u', i);
    const email = this.email('u', i);
    switch (kind) {
      case 'malformed-json':
        return {
          method: 'POST',
          path: '/api/users',
          headers: json,
          body: `{"username": "${username}", "email": "${email}",`,
        };
      case 'oversized':
        return {
          ...this.signup('u', i),
          body: JSON.stringify({
            username,
            email,
            password: PASSWORD,
            padding: 'x'.repeat(20 * 1024),
          }),
        };
      case 'wrong-content-type':
        return {
          method: 'POST',
          path: '/api/users',
          headers: { 'content-type': 'text/plain' },
          body: `username=${username}&email=${email}`,
        };
      case 'invalid-fields':
        return {
          method: 'POST',
          path: '/api/users',
          headers: json,
          body: JSON.stringify({ username: `U${i}!`, email: 'not-an-address', password: 'short' }),
        };
      case 'duplicate':
        // The previous request's user again: it is a valid sign-up scheduled just before.
        return this.signup('u', i - 1);
    }
  }

  /**
   * Request i of a measured schedule under a bad-input share (none: every request is a good
   * sign-up).
   */
  measured(i: number, share: number | undefined): RequestSpec {
    const kind = badInputKind(i, share);
    return kind ? this.bad(kind, i) : this.signup('u', i);
  }
}

/** Which requests are bad under a bad-input share: every Nth (never the first), kinds in turn. */
export function badInputKind(i: number, share: number | undefined): BadInputKind | null {
  if (!share) return null;
  const every = Math.max(2, Math.round(1 / share));
  if (i % every !== every - 1) return null;
  return BAD_INPUT_KINDS[Math.floor(i / every) % BAD_INPUT_KINDS.length] as BadInputKind;
}

/** Whether request i got the answer it was sent for: a 2xx, or for a bad request its 4xx. */
export function answeredAsMeant(i: number, status: number, share: number | undefined): boolean {
  const kind = badInputKind(i, share);
  return kind ? status === BAD_INPUT_STATUS[kind] : status >= 200 && status < 300;
}

/** The registrations (request indexes) owed an e-mail, from each request's status: one per 201. */
export function owedOf(statuses: readonly number[], share: number | undefined): Set<number> {
  const owed = new Set<number>();
  statuses.forEach((status, i) => {
    if (status === 201) owed.add(owedIndex(i, share));
  });
  return owed;
}

/** The registration whose e-mail a 201 to request i owes: a duplicate's 201 owes its original's. */
export function owedIndex(i: number, share: number | undefined): number {
  return badInputKind(i, share) === 'duplicate' ? i - 1 : i;
}
