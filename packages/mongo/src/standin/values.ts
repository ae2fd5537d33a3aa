/**
 * BSON value semantics as mongod applies them: type brackets, comparison order,
 * equality across number types, and canonical keys for indexes.
 * Documents are held as deserialized with `promoteValues: false`, so numbers
 * stay Int32 / Double / Long and keep their type on the way back out.
 */
import {
  Binary,
  Decimal128,
  Double,
  Int32,
  Long,
  ObjectId,
  Timestamp,
  BSONRegExp,
  MinKey,
  MaxKey,
} from 'bson';

export type Doc = Record<string, unknown>;

export function isBsonValue(v: unknown): v is { _bsontype: string } {
  return typeof v === 'object' && v !== null && '_bsontype' in v;
}

/** A sub-document: a plain object, not an array, date, buffer, regexp or BSON wrapper. */
export function isDocument(v: unknown): v is Doc {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof RegExp) &&
    !isBsonValue(v)
  );
}

export function isNumber(v: unknown): boolean {
  return (
    typeof v === 'number' ||
    v instanceof Int32 ||
    v instanceof Double ||
    v instanceof Long ||
    v instanceof Decimal128
  );
}

export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v instanceof Int32 || v instanceof Double) return v.value;
  if (v instanceof Long) return v.toNumber();
  if (v instanceof Decimal128) return Number.parseFloat(v.toString());
  return Number.NaN;
}

/** mongod's canonical type order, used to compare values of different types. */
export function typeOrder(v: unknown): number {
  if (v instanceof MinKey) return 1;
  if (v === undefined || v === null) return 2;
  if (isNumber(v)) return 3;
  if (typeof v === 'string' || (isBsonValue(v) && v._bsontype === 'BSONSymbol')) return 4;
  if (Array.isArray(v)) return 6;
  if (v instanceof Binary || v instanceof Uint8Array) return 7;
  if (v instanceof ObjectId) return 8;
  if (typeof v === 'boolean') return 9;
  if (v instanceof Date) return 10;
  if (v instanceof Timestamp) return 11;
  if (v instanceof RegExp || v instanceof BSONRegExp) return 12;
  if (v instanceof MaxKey) return 13;
  if (isDocument(v)) return 5;
  return 14;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/**
 * A number as mongod compares it: exactly. Integers (Int32, Long, and doubles that hold an
 * integer) as a bigint, so a Long beyond 2^53 is not rounded onto its neighbour; anything else
 * (fractions, infinities, NaN, Decimal128) as a double.
 */
function exactNumber(v: unknown): bigint | number {
  if (v instanceof Long) return v.toBigInt();
  if (v instanceof Int32) return BigInt(v.value);
  const n = toNumber(v);
  return Number.isInteger(n) && !(v instanceof Decimal128) ? BigInt(n) : n;
}

function compareNumbers(a: unknown, b: unknown): number {
  const x = exactNumber(a);
  const y = exactNumber(b);
  if (typeof x === 'bigint' && typeof y === 'bigint') return x < y ? -1 : x > y ? 1 : 0;
  // One side is not an integer: below 2^53 every integer is a double, so comparing doubles is
  // exact.
  const fx = Number(x);
  const fy = Number(y);
  if (Number.isNaN(fx)) return Number.isNaN(fy) ? 0 : -1;
  if (Number.isNaN(fy)) return 1;
  return sign(fx - fy);
}

/** Total order over BSON values, as mongod sorts them. */
export function compareValues(a: unknown, b: unknown): number {
  const ta = typeOrder(a);
  const tb = typeOrder(b);
  if (ta !== tb) return sign(ta - tb);
  switch (ta) {
    case 2:
    case 1:
    case 13:
      return 0;
    case 3:
      return compareNumbers(a, b);
    case 4: {
      const x = String(typeof a === 'string' ? a : (a as { value: string }).value);
      const y = String(typeof b === 'string' ? b : (b as { value: string }).value);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 5: {
      const ka = Object.keys(a as Doc);
      const kb = Object.keys(b as Doc);
      for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
        const na = ka[i] as string;
        const nb = kb[i] as string;
        const c = compareValues((a as Doc)[na], (b as Doc)[nb]);
        if (c !== 0) return c;
        if (na !== nb) return na < nb ? -1 : 1;
      }
      return sign(ka.length - kb.length);
    }
    case 6: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
        const c = compareValues(xa[i], xb[i]);
        if (c !== 0) return c;
      }
      return sign(xa.length - xb.length);
    }
    case 7: {
      const ba = a instanceof Binary ? a.buffer : (a as Uint8Array);
      const bb = b instanceof Binary ? b.buffer : (b as Uint8Array);
      return sign(compareBytes(ba, bb));
    }
    case 8: {
      const x = (a as ObjectId).toHexString();
      const y = (b as ObjectId).toHexString();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 9:
      return sign(Number(a) - Number(b));
    case 10:
      return sign((a as Date).getTime() - (b as Date).getTime());
    case 11:
      return (a as Timestamp).compare(b as Timestamp);
    default: {
      const x = String(a);
      const y = String(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

/**
 * A string that is equal for two values exactly when mongod considers them equal:
 * used as the key of every index. Numbers of different types share a key.
 */
export function canonicalKey(v: unknown): string {
  // Quoted, so that no string can forge the separator of a compound key (\u0000) or a closing
  // bracket.
  if (typeof v === 'string') return `s${JSON.stringify(v)}`;
  if (v === undefined || v === null) return 'z';
  if (v instanceof ObjectId) return `o${v.toHexString()}`;
  if (isNumber(v)) return `n${String(exactNumber(v))}`;
  if (typeof v === 'boolean') return v ? 'b1' : 'b0';
  if (v instanceof Date) return `d${v.getTime()}`;
  if (Array.isArray(v)) return `a[${v.map(canonicalKey).join(',')}]`;
  if (isDocument(v)) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${canonicalKey(x)}`)
      .join(',')}}`;
  }
  if (v instanceof Binary) return `x${v.sub_type}:${Buffer.from(v.buffer).toString('hex')}`;
  if (v instanceof Uint8Array) return `x0:${Buffer.from(v).toString('hex')}`;
  return `t${typeOrder(v)}:${String(v)}`;
}

/** Deep copy of a document; BSON wrappers are immutable and shared. */
export function cloneValue<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (isDocument(v)) {
    const out: Doc = {};
    for (const [k, x] of Object.entries(v)) out[k] = cloneValue(x);
    return out as T;
  }
  return v;
}

/** Renders a value the way mongod prints it in error messages: `"a@b.c"`, `ObjectId('…')`, `1`. */
export function renderValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v instanceof Long) return v.toString();
  if (isNumber(v)) return String(toNumber(v));
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[ ${v.map(renderValue).join(', ')} ]`;
  if (isDocument(v)) return renderDocument(v);
  return String(v);
}

export function renderDocument(doc: Doc): string {
  const entries = Object.entries(doc);
  if (entries.length === 0) return '{}';
  return `{ ${entries.map(([k, x]) => `${k}: ${renderValue(x)}`).join(', ')} }`;
}

/** Truthiness as mongod reads flags: numbers by value (Int32(0) is false), booleans as they are. */
export function truthy(v: unknown): boolean {
  if (isNumber(v)) return toNumber(v) !== 0;
  return Boolean(v);
}
