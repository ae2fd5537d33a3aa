/** The requests a cell sends: unique sign-ups, and the malformed ones of the bad-input fault. */
import type { RequestSpec } from '@mailbench/loadgen';

const PASSWORD = 'mailbench-password-1';

/** Sign-up i of the warm-up ('w') or of the measured schedule ('u'): a user of its own. */
export function signupRequest(prefix: 'w' | 'u', i: number): RequestSpec {
  const name = `${prefix}${i}`;
  return {
    method: 'POST',
    path: '/api/users',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `mb_${name}`, email: `${name}@example.test`, password: PASSWORD }),
  };
}

/** The request index a measured sign-up's e-mail was sent to, or null (warm-up or unknown). */
export function indexOfRecipient(address: string): number | null {
  const m = /^u(\d+)@example\.test$/.exec(address);
  return m ? Number(m[1]) : null;
}

export const BAD_INPUT_KINDS = ['malformed-json', 'oversized', 'wrong-content-type', 'invalid-fields', 'duplicate'] as const;
export type BadInputKind = (typeof BAD_INPUT_KINDS)[number];
export const BAD_INPUT_STATUS: Record<BadInputKind, number> = {
  'malformed-json': 400,
  oversized: 413,
  'wrong-content-type': 415,
  'invalid-fields': 400,
  duplicate: 409,
};

/** Which requests are bad under a bad-input share: every Nth (never the first), kinds in turn. */
export function badInputKind(i: number, share: number | undefined): BadInputKind | null {
  if (!share) return null;
  const every = Math.max(2, Math.round(1 / share));
  if (i % every !== every - 1) return null;
  return BAD_INPUT_KINDS[Math.floor(i / every) % BAD_INPUT_KINDS.length] as BadInputKind;
}

export function badSignupRequest(kind: BadInputKind, i: number): RequestSpec {
  const json = { 'content-type': 'application/json' };
  switch (kind) {
    case 'malformed-json':
      return { method: 'POST', path: '/api/users', headers: json, body: `{"username": "mb_u${i}", "email": "u${i}@example.test",` };
    case 'oversized':
      return { ...signupRequest('u', i), body: JSON.stringify({ username: `mb_u${i}`, email: `u${i}@example.test`, password: PASSWORD, padding: 'x'.repeat(20 * 1024) }) };
    case 'wrong-content-type':
      return { method: 'POST', path: '/api/users', headers: { 'content-type': 'text/plain' }, body: `username=mb_u${i}&email=u${i}@example.test` };
    case 'invalid-fields':
      return { method: 'POST', path: '/api/users', headers: json, body: JSON.stringify({ username: `U${i}!`, email: 'not-an-address', password: 'short' }) };
    case 'duplicate':
      // The previous request's user again: it is a valid sign-up scheduled just before.
      return signupRequest('u', i - 1);
  }
}

/** Request i of a measured schedule under a bad-input share (none: every request is a good sign-up). */
export function measuredRequest(i: number, share: number | undefined): RequestSpec {
  const kind = badInputKind(i, share);
  return kind ? badSignupRequest(kind, i) : signupRequest('u', i);
}

/** The registration whose e-mail a 201 to request i owes: a duplicate's 201 owes its original's. */
export function owedIndex(i: number, share: number | undefined): number {
  return badInputKind(i, share) === 'duplicate' ? i - 1 : i;
}
