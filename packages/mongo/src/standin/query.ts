/**
 * Filters, projections and sorts, with mongod's semantics for the operators
 * the stand-in supports. Anything else is refused with BadValue, never ignored.
 */
import { badValue, CommandError } from './errors.ts';
import {
  cloneValue,
  compareValues,
  isDocument,
  truthy,
  typeOrder,
  valuesEqual,
  type Doc,
} from './values.ts';

/** Every value a dotted path reaches, traversing arrays as mongod does. */
export function lookupPath(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  collect(doc, path.split('.'), 0, out);
  return out.length === 0 ? [undefined] : out;
}

function collect(value: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    out.push(value);
    return;
  }
  const part = parts[i] as string;
  if (Array.isArray(value)) {
    if (/^\d+$/.test(part)) {
      const index = Number(part);
      if (index < value.length) collect(value[index], parts, i + 1, out);
    }
    for (const element of value) {
      if (isDocument(element)) collect(element, parts, i, out);
    }
    return;
  }
  if (isDocument(value)) {
    if (Object.hasOwn(value, part)) collect(value[part], parts, i + 1, out);
    else out.push(undefined);
    return;
  }
  out.push(undefined);
}

/** The value at a path without array traversal (for updates, projections, sorts on plain paths). */
export function getPath(doc: Doc, path: string): unknown {
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(part)) current = current[Number(part)];
    else if (isDocument(current)) current = current[part];
    else return undefined;
  }
  return current;
}

type Predicate = (doc: Doc) => boolean;

const COMPARISON_OPERATORS = new Set([
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
]);

function isOperatorObject(v: unknown): v is Doc {
  if (!isDocument(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys[0]!.startsWith('$');
}

/** True when some candidate (or an element of an array candidate) satisfies `test`. */
function anyValue(
  candidates: unknown[],
  test: (v: unknown) => boolean,
  includeArrays = true,
): boolean {
  for (const c of candidates) {
    if (Array.isArray(c)) {
      if (includeArrays && test(c)) return true;
      for (const e of c) if (test(e)) return true;
    } else if (test(c)) {
      return true;
    }
  }
  return false;
}

function compileOperator(path: string, op: string, arg: unknown): Predicate {
  const values = (doc: Doc) => lookupPath(doc, path);
  const range = (accept: (c: number) => boolean): Predicate => {
    if (arg instanceof RegExp) throw badValue(`${op} does not take a regular expression here`);
    // Values of another type never satisfy a range operator in mongod (no cross-type ordering
    // here).
    const bracket = typeOrder(arg);
    return (doc) =>
      anyValue(values(doc), (v) => typeOrder(v) === bracket && accept(compareValues(v, arg)));
  };
  switch (op) {
    case '$eq':
      return (doc) => anyValue(values(doc), (v) => valuesEqual(v, arg));
    case '$ne':
      return (doc) => !anyValue(values(doc), (v) => valuesEqual(v, arg));
    case '$gt':
      return range((c) => c > 0);
    case '$gte':
      return range((c) => c >= 0);
    case '$lt':
      return range((c) => c < 0);
    case '$lte':
      return range((c) => c <= 0);
    case '$in':
    case '$nin': {
      if (!Array.isArray(arg)) throw badValue(`${op} needs an array`);
      const list = arg;
      const test: Predicate = (doc) =>
        anyValue(values(doc), (v) => list.some((x) => valuesEqual(v, x)));
      return op === '$in' ? test : (doc) => !test(doc);
    }
    case '$exists': {
      const wanted = truthy(arg);
      return (doc) => lookupPath(doc, path).some((v) => v !== undefined) === wanted;
    }
    default:
      throw badValue(`unknown operator: ${op}`);
  }
}

function compileField(path: string, condition: unknown): Predicate {
  if (isOperatorObject(condition)) {
    const predicates = Object.entries(condition).map(([op, arg]) => {
      if (!op.startsWith('$')) {
        throw badValue(`unknown operator: ${op}`);
      }
      if (!COMPARISON_OPERATORS.has(op)) throw badValue(`unknown operator: ${op}`);
      return compileOperator(path, op, arg);
    });
    return (doc) => predicates.every((p) => p(doc));
  }
  if (condition instanceof RegExp)
    throw badValue('regular expression filters are not supported by the mailbench stand-in');
  return compileOperator(path, '$eq', condition);
}

function compileLogical(op: string, arg: unknown): Predicate {
  if (!Array.isArray(arg) || arg.length === 0) {
    throw badValue(`${op} must be a nonempty array`);
  }
  const parts = arg.map((clause) => {
    if (!isDocument(clause)) throw badValue(`${op} argument's entries must be objects`);
    return compileFilter(clause);
  });
  switch (op) {
    case '$and':
      return (doc) => parts.every((p) => p(doc));
    case '$or':
      return (doc) => parts.some((p) => p(doc));
    case '$nor':
      return (doc) => !parts.some((p) => p(doc));
    default:
      throw badValue(`unknown top level operator: ${op}`);
  }
}

/** Compiles a filter document into a predicate, throwing BadValue for anything unsupported. */
export function compileFilter(filter: Doc | undefined | null): Predicate {
  if (filter === undefined || filter === null) return () => true;
  if (!isDocument(filter)) throw new CommandError(14, 'TypeMismatch', 'filter must be an object');
  const predicates: Predicate[] = [];
  for (const [key, condition] of Object.entries(filter)) {
    if (key.startsWith('$')) {
      if (key === '$and' || key === '$or' || key === '$nor')
        predicates.push(compileLogical(key, condition));
      else if (key === '$comment') continue;
      else
        throw badValue(
          `unknown top level operator: ${key}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.`,
        );
    } else {
      predicates.push(compileField(key, condition));
    }
  }
  if (predicates.length === 1) return predicates[0] as Predicate;
  return (doc) => predicates.every((p) => p(doc));
}

/**
 * Equality conditions a filter pins at top level (plain values, `$eq`, and inside
 * a top-level `$and`): used to pick an index and to seed an upserted document.
 */
export function equalityFields(filter: Doc | undefined | null): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!filter) return out;
  for (const [key, condition] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(condition)) {
      for (const clause of condition) {
        if (isDocument(clause)) for (const [k, v] of equalityFields(clause)) out.set(k, v);
      }
    } else if (!key.startsWith('$')) {
      if (isOperatorObject(condition)) {
        if (Object.hasOwn(condition, '$eq')) out.set(key, condition.$eq);
      } else if (!(condition instanceof RegExp)) {
        out.set(key, condition);
      }
    }
  }
  return out;
}

/** `$in` lists pinned at top level, for index lookups. */
export function inFields(filter: Doc | undefined | null): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  if (!filter) return out;
  for (const [key, condition] of Object.entries(filter)) {
    if (!key.startsWith('$') && isOperatorObject(condition) && Array.isArray(condition.$in))
      out.set(key, condition.$in);
  }
  return out;
}

export type SortSpec = Array<[string, 1 | -1]>;

export function parseSort(sort: unknown): SortSpec {
  if (sort === undefined || sort === null) return [];
  if (!isDocument(sort)) throw badValue('sort must be an object');
  return Object.entries(sort).map(([path, dir]) => {
    const n = Number(
      typeof dir === 'object' && dir !== null && 'valueOf' in dir
        ? (dir as { valueOf(): unknown }).valueOf()
        : dir,
    );
    if (n !== 1 && n !== -1) {
      throw new CommandError(
        15974,
        'Location15974',
        `Illegal key in $sort specification: ${path}: ${String(dir)}`,
      );
    }
    return [path, n];
  });
}

function sortKey(doc: Doc, path: string, direction: 1 | -1): unknown {
  const values = lookupPath(doc, path).flatMap((v) =>
    Array.isArray(v) ? (v.length === 0 ? [undefined] : v) : [v],
  );
  // With arrays, ascending sorts use the smallest element, descending the largest.
  let best = values[0];
  for (const v of values) {
    const c = compareValues(v, best);
    if ((direction === 1 && c < 0) || (direction === -1 && c > 0)) best = v;
  }
  return best;
}

export function sortDocuments(docs: Doc[], spec: SortSpec): Doc[] {
  if (spec.length === 0) return docs;
  return docs.sort((a, b) => {
    for (const [path, direction] of spec) {
      const c = compareValues(sortKey(a, path, direction), sortKey(b, path, direction));
      if (c !== 0) return c * direction;
    }
    return 0;
  });
}

export type Projector = (doc: Doc) => Doc;

function setIn(target: Doc, parts: string[], value: unknown): void {
  let current = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i] as string;
    if (!isDocument(current[part])) current[part] = {};
    current = current[part] as Doc;
  }
  current[parts[parts.length - 1] as string] = value;
}

function deleteIn(target: Doc, parts: string[]): void {
  let current: unknown = target;
  for (let i = 0; i < parts.length - 1; i++) {
    if (!isDocument(current)) return;
    current = current[parts[i] as string];
  }
  if (isDocument(current)) delete current[parts[parts.length - 1] as string];
}

/** Inclusion or exclusion projection (dotted paths allowed, `_id` included unless excluded). */
export function compileProjection(projection: unknown): Projector | null {
  if (projection === undefined || projection === null) return null;
  if (!isDocument(projection)) throw badValue('projection must be an object');
  const entries = Object.entries(projection);
  if (entries.length === 0) return null;
  for (const [path, v] of entries) {
    if (path.startsWith('$') || isDocument(v)) {
      throw badValue(`projection operators are not supported by the mailbench stand-in (${path})`);
    }
  }
  const idEntry = entries.find(([p]) => p === '_id');
  const rest = entries.filter(([p]) => p !== '_id');
  const includeId = idEntry === undefined ? true : truthy(idEntry[1]);
  const inclusion =
    rest.length > 0 ? truthy(rest[0]![1]) : idEntry !== undefined && truthy(idEntry[1]);
  for (const [path, v] of rest) {
    if (truthy(v) !== inclusion) {
      throw new CommandError(
        31254,
        'Location31254',
        inclusion
          ? `Cannot do exclusion on field ${path} in inclusion projection`
          : `Cannot do inclusion on field ${path} in exclusion projection`,
      );
    }
  }
  if (inclusion) {
    const paths = rest.map(([p]) => p);
    return (doc) => {
      const out: Doc = {};
      if (includeId && Object.hasOwn(doc, '_id')) out._id = doc._id;
      for (const path of paths) {
        const value = getPath(doc, path);
        if (value !== undefined) setIn(out, path.split('.'), value);
      }
      return out;
    };
  }
  const paths = rest.map(([p]) => p.split('.'));
  return (doc) => {
    const out = cloneValue(doc);
    if (!includeId) delete out._id;
    for (const parts of paths) deleteIn(out, parts);
    return out;
  };
}
