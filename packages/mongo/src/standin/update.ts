/**
 * Update documents: replacements and the operators $set, $unset, $inc, $setOnInsert.
 * Anything else fails as mongod fails it; nothing is silently ignored.
 */
import { Double, Int32, Long } from 'bson';
import { CommandError, failedToParse } from './errors.ts';
import { getPath } from './query.ts';
import { cloneValue, isDocument, isNumber, toNumber, valuesEqual, type Doc } from './values.ts';

const SUPPORTED = new Set(['$set', '$unset', '$inc', '$setOnInsert']);

export type UpdateKind = 'replacement' | 'operators';

export function classifyUpdate(update: unknown): UpdateKind {
  if (Array.isArray(update)) {
    throw new CommandError(
      238,
      'NotImplemented',
      'pipeline-style updates are not supported by the mailbench stand-in',
    );
  }
  if (!isDocument(update)) throw failedToParse('update must be an object');
  const keys = Object.keys(update);
  if (keys.length === 0) return 'replacement';
  const dollar = keys.filter((k) => k.startsWith('$'));
  if (dollar.length === 0) return 'replacement';
  for (const k of keys) {
    if (!k.startsWith('$')) {
      throw failedToParse(
        `Unknown modifier: ${k}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!SUPPORTED.has(k)) {
      throw failedToParse(
        `Unknown modifier: ${k}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    const arg = update[k];
    if (!isDocument(arg)) {
      throw failedToParse(
        `Modifiers operate on fields but we found type ${Array.isArray(arg) ? 'array' : typeof arg} instead.`,
      );
    }
  }
  return 'operators';
}

function immutableId(): CommandError {
  return new CommandError(
    66,
    'ImmutableField',
    "Performing an update on the path '_id' would modify the immutable field '_id'",
  );
}

function parentOf(
  doc: Doc,
  path: string,
  create: boolean,
): { parent: Doc | unknown[]; key: string } | null {
  const parts = path.split('.');
  let current: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i] as string;
    let next: unknown;
    if (Array.isArray(current) && /^\d+$/.test(part)) next = current[Number(part)];
    else if (isDocument(current)) next = current[part];
    else {
      throw new CommandError(
        28,
        'PathNotViable',
        `Cannot create field '${part}' in element {${parts.slice(0, i).join('.')}: ${String(current)}}`,
      );
    }
    if (next === undefined || next === null) {
      if (!create) return null;
      next = {};
      if (Array.isArray(current)) current[Number(part)] = next;
      else (current as Doc)[part] = next;
    }
    current = next;
  }
  if (!isDocument(current) && !Array.isArray(current)) {
    if (!create) return null;
    throw new CommandError(
      28,
      'PathNotViable',
      `Cannot create field '${parts[parts.length - 1]}' in element {${path}: ${String(current)}}`,
    );
  }
  return { parent: current as Doc | unknown[], key: parts[parts.length - 1] as string };
}

function getIn(parent: Doc | unknown[], key: string): unknown {
  return Array.isArray(parent) ? parent[Number(key)] : parent[key];
}

function setIn(parent: Doc | unknown[], key: string, value: unknown): void {
  if (Array.isArray(parent)) parent[Number(key)] = value;
  else parent[key] = value;
}

function addNumbers(a: unknown, b: unknown, field: string, id: unknown): unknown {
  if (!isNumber(b)) {
    throw new CommandError(
      14,
      'TypeMismatch',
      `Cannot increment with non-numeric argument: {${field}: ${String(b)}}`,
    );
  }
  if (a === undefined) return b;
  if (!isNumber(a)) {
    throw new CommandError(
      14,
      'TypeMismatch',
      `Cannot apply $inc to a value of non-numeric type. {_id: ${String(id)}} has the field '${field}' of non-numeric type ${typeof a}`,
    );
  }
  const sum = toNumber(a) + toNumber(b);
  // mongod's promotion: any double makes a double, any long a long, int32 overflow becomes a long.
  const isDouble = (v: unknown) =>
    v instanceof Double || (typeof v === 'number' && !Number.isInteger(v));
  if (isDouble(a) || isDouble(b)) return new Double(sum);
  if (a instanceof Long || b instanceof Long) return Long.fromNumber(sum);
  if (sum > 2147483647 || sum < -2147483648) return Long.fromNumber(sum);
  return new Int32(sum);
}

/**
 * Applies an operator update to a copy of `doc`. Returns the new document and whether anything
 * changed.
 * `inserting` enables $setOnInsert.
 */
export function applyOperators(
  doc: Doc,
  update: Doc,
  inserting: boolean,
): { doc: Doc; changed: boolean } {
  const out = cloneValue(doc);
  let changed = false;
  const touched = new Set<string>();
  const claim = (path: string) => {
    for (const t of touched) {
      if (t === path || t.startsWith(`${path}.`) || path.startsWith(`${t}.`)) {
        throw new CommandError(
          40,
          'ConflictingUpdateOperators',
          `Updating the path '${path}' would create a conflict at '${t}'`,
        );
      }
    }
    touched.add(path);
  };
  for (const [op, fields] of Object.entries(update)) {
    if (op === '$setOnInsert' && !inserting) {
      for (const path of Object.keys(fields as Doc)) claim(path);
      continue;
    }
    for (const [path, value] of Object.entries(fields as Doc)) {
      claim(path);
      if (path === '_id' || path.startsWith('_id.')) {
        if (op === '$set' || op === '$setOnInsert') {
          if (valuesEqual(getPath(out, path), value)) continue;
          if (inserting && doc._id === undefined) {
            out._id = cloneValue(value);
            changed = true;
            continue;
          }
        }
        throw immutableId();
      }
      if (path === '' || path.split('.').some((p) => p === '' || p.startsWith('$'))) {
        throw new CommandError(
          56,
          'EmptyFieldName',
          `The update path '${path}' contains an empty field name or a '$', which is not allowed.`,
        );
      }
      switch (op) {
        case '$set':
        case '$setOnInsert': {
          const target = parentOf(out, path, true)!;
          const before = getIn(target.parent, target.key);
          if (before === undefined || !valuesEqual(before, value) || typeofDiffers(before, value)) {
            setIn(target.parent, target.key, cloneValue(value));
            changed = true;
          }
          break;
        }
        case '$unset': {
          const target = parentOf(out, path, false);
          if (target && getIn(target.parent, target.key) !== undefined) {
            if (Array.isArray(target.parent)) target.parent[Number(target.key)] = null;
            else delete target.parent[target.key];
            changed = true;
          }
          break;
        }
        case '$inc': {
          const target = parentOf(out, path, true)!;
          const before = getIn(target.parent, target.key);
          setIn(target.parent, target.key, addNumbers(before, value, path, doc._id));
          if (before === undefined || toNumber(value) !== 0) changed = true;
          break;
        }
      }
    }
  }
  return { doc: out, changed };
}

function typeofDiffers(a: unknown, b: unknown): boolean {
  // $set of 1.0 over Int32(1) is a change in type, which mongod writes.
  const ctor = (v: unknown) => (typeof v === 'object' && v !== null ? v.constructor : typeof v);
  return ctor(a) !== ctor(b);
}

/** A replacement keeps the old `_id` (and refuses to change it). `_id` comes first. */
export function applyReplacement(doc: Doc, replacement: Doc): Doc {
  if (
    Object.hasOwn(replacement, '_id') &&
    doc._id !== undefined &&
    !valuesEqual(replacement._id, doc._id)
  ) {
    throw new CommandError(
      66,
      'ImmutableField',
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${String(replacement._id)}`,
    );
  }
  const out: Doc = {};
  if (doc._id !== undefined) out._id = doc._id;
  else if (replacement._id !== undefined) out._id = cloneValue(replacement._id);
  for (const [k, v] of Object.entries(replacement)) {
    if (k === '_id') continue;
    if (k.startsWith('$'))
      throw failedToParse(
        `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document.`,
      );
    out[k] = cloneValue(v);
  }
  return out;
}
