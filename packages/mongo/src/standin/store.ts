/**
 * In-memory databases, collections and indexes. Every index is a hash map from
 * the canonical key of the indexed values to the ids of the documents holding them,
 * so unique checks and equality lookups never scan.
 */
import { UUID } from 'bson';
import { CommandError, badValue, notImplemented } from './errors.ts';
import { OrderedEntries } from './ordered-index.ts';
import { findSortedByIndex, type PlanSource, type ReadStats } from './plan.ts';
import {
  compileFilter,
  equalityFields,
  inFields,
  lookupPath,
  sortDocuments,
  type SortSpec,
} from './query.ts';
import { canonicalKey, isDocument, renderDocument, toNumber, truthy, type Doc } from './values.ts';

export interface IndexSpec {
  name: string;
  key: Doc;
  unique: boolean;
  sparse: boolean;
  partialFilterExpression?: Doc;
}

class Index {
  readonly spec: IndexSpec;
  readonly fields: string[];
  readonly entries = new Map<string, Set<string>>();
  /**
   * The same entries in key order, for sorted walks; none for a partial or sparse index (not every
   * document is in it).
   */
  readonly ordered: OrderedEntries | null;
  private readonly partial: ((doc: Doc) => boolean) | null;

  constructor(spec: IndexSpec) {
    this.spec = spec;
    this.fields = Object.keys(spec.key);
    this.partial = spec.partialFilterExpression
      ? compileFilter(spec.partialFilterExpression)
      : null;
    this.ordered =
      spec.partialFilterExpression || spec.sparse ? null : new OrderedEntries(spec.key);
  }

  /** Every key this document produces (several when an indexed field is an array). */
  keysOf(doc: Doc): string[] {
    if (this.partial && !this.partial(doc)) return [];
    if (
      this.spec.sparse &&
      this.fields.every((f) => lookupPath(doc, f).every((v) => v === undefined))
    )
      return [];
    let keys: string[] = [''];
    for (const field of this.fields) {
      const values = new Set<string>();
      for (const v of lookupPath(doc, field)) {
        if (Array.isArray(v)) {
          if (v.length === 0) values.add(canonicalKey(undefined));
          for (const e of v) values.add(canonicalKey(e));
        } else {
          values.add(canonicalKey(v));
        }
      }
      const next: string[] = [];
      for (const prefix of keys)
        for (const v of values) next.push(prefix === '' ? v : `${prefix}\u0000${v}`);
      keys = next;
    }
    return keys;
  }

  /** The key of a lookup by equality values, one per field, in index order. */
  keyOfValues(values: unknown[]): string {
    return values.map((v) => canonicalKey(v)).join('\u0000');
  }

  keyValueOf(doc: Doc): Doc {
    const out: Doc = {};
    for (const field of this.fields) {
      const values = lookupPath(doc, field);
      out[field] = values.length === 1 ? (values[0] ?? null) : values;
    }
    return out;
  }

  add(idKey: string, keys: string[], doc: Doc, seq: number): void {
    this.ordered?.add(idKey, seq, doc);
    for (const key of keys) {
      let set = this.entries.get(key);
      if (!set) {
        set = new Set();
        this.entries.set(key, set);
      }
      set.add(idKey);
    }
  }

  remove(idKey: string, keys: string[], doc: Doc, seq: number): void {
    this.ordered?.remove(idKey, seq, doc);
    for (const key of keys) {
      const set = this.entries.get(key);
      if (!set) continue;
      set.delete(idKey);
      if (set.size === 0) this.entries.delete(key);
    }
  }

  /** The id of another document that already holds one of `keys`, if this index is unique. */
  conflict(idKey: string, keys: string[]): string | null {
    if (!this.spec.unique) return null;
    for (const key of keys) {
      const set = this.entries.get(key);
      if (set) for (const other of set) if (other !== idKey) return other;
    }
    return null;
  }

  describe(): Doc {
    const out: Doc = { v: 2, key: this.spec.key, name: this.spec.name };
    if (this.spec.unique) out.unique = true;
    if (this.spec.sparse) out.sparse = true;
    if (this.spec.partialFilterExpression)
      out.partialFilterExpression = this.spec.partialFilterExpression;
    return out;
  }
}

export function duplicateKeyError(ns: string, index: Index, doc: Doc): CommandError {
  const keyValue = index.keyValueOf(doc);
  return new CommandError(
    11000,
    'DuplicateKey',
    `E11000 duplicate key error collection: ${ns} index: ${index.spec.name} dup key: ${renderDocument(keyValue)}`,
    { keyPattern: index.spec.key, keyValue },
  );
}

export class Collection implements PlanSource {
  readonly db: string;
  readonly name: string;
  readonly uuid = new UUID();
  /** _id canonical key → document, in insertion (natural) order. */
  readonly docs = new Map<string, Doc>();
  readonly indexes = new Map<string, Index>();
  /** _id canonical key → place in natural order (ties in an ordered index keep it). */
  private readonly seqs = new Map<string, number>();
  private nextSeq = 0;

  constructor(db: string, name: string) {
    this.db = db;
    this.name = name;
    this.indexes.set(
      '_id_',
      new Index({ name: '_id_', key: { _id: 1 }, unique: true, sparse: false }),
    );
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  private idIndex(): Index {
    return this.indexes.get('_id_') as Index;
  }

  /** Inserts a document (its _id already set). Throws a DuplicateKey CommandError on conflict. */
  insert(doc: Doc): void {
    const idKey = canonicalKey(doc._id);
    const keysByIndex = new Map<Index, string[]>();
    for (const index of this.indexes.values()) {
      const keys = index === this.idIndex() ? [idKey] : index.keysOf(doc);
      if (
        index.conflict(idKey, keys) !== null ||
        (index === this.idIndex() && this.docs.has(idKey))
      ) {
        throw duplicateKeyError(this.ns, index, doc);
      }
      keysByIndex.set(index, keys);
    }
    const seq = this.nextSeq++;
    for (const [index, keys] of keysByIndex) index.add(idKey, keys, doc, seq);
    this.docs.set(idKey, doc);
    this.seqs.set(idKey, seq);
  }

  /** Replaces a stored document by a new version with the same _id, keeping indexes in step. */
  replace(before: Doc, after: Doc): void {
    const idKey = canonicalKey(before._id);
    const changes: Array<[Index, string[], string[]]> = [];
    for (const index of this.indexes.values()) {
      if (index === this.idIndex()) continue;
      const oldKeys = index.keysOf(before);
      const newKeys = index.keysOf(after);
      if (index.conflict(idKey, newKeys) !== null) throw duplicateKeyError(this.ns, index, after);
      // Keys that did not change (the usual case: an update of other fields) keep their entries.
      if (oldKeys.length !== newKeys.length || oldKeys.some((k, i) => k !== newKeys[i]))
        changes.push([index, oldKeys, newKeys]);
    }
    const seq = this.seqs.get(idKey) ?? 0;
    for (const [index, oldKeys, newKeys] of changes) {
      index.remove(idKey, oldKeys, before, seq);
      index.add(idKey, newKeys, after, seq);
    }
    this.docs.set(idKey, after);
  }

  delete(doc: Doc): void {
    const idKey = canonicalKey(doc._id);
    const seq = this.seqs.get(idKey) ?? 0;
    for (const index of this.indexes.values()) {
      index.remove(idKey, index === this.idIndex() ? [idKey] : index.keysOf(doc), doc, seq);
    }
    this.docs.delete(idKey);
    this.seqs.delete(idKey);
  }

  /**
   * Documents matching a filter, in natural order. Uses an index when the filter pins
   * every field of one by equality (or `$in` on a single-field index); scans otherwise.
   */
  find(filter: Doc | undefined, limit = 0, stats?: ReadStats): Doc[] {
    const predicate = compileFilter(filter);
    const candidates = this.candidates(filter);
    const out: Doc[] = [];
    for (const doc of candidates) {
      if (stats) stats.docsExamined++;
      if (predicate(doc)) {
        out.push(doc);
        if (limit > 0 && out.length >= limit) break;
      }
    }
    return out;
  }

  /**
   * Up to `limit` matches in `sort` order (all of them with limit 0): by walking an ordered index
   * where one serves the filter (and each branch of its $or), else by matching and sorting all.
   */
  findSorted(filter: Doc | undefined, sort: SortSpec, limit: number, stats?: ReadStats): Doc[] {
    const walked = findSortedByIndex(this, filter, sort, limit, stats);
    if (walked) return walked;
    const docs = sortDocuments(
      this.find(filter, sort.length === 0 ? limit : 0, stats).slice(),
      sort,
    );
    return limit > 0 ? docs.slice(0, limit) : docs;
  }

  walkable(): OrderedEntries[] {
    const out: OrderedEntries[] = [];
    for (const index of this.indexes.values())
      if (index.ordered && !index.ordered.multikey) out.push(index.ordered);
    return out;
  }

  doc(id: string): Doc | undefined {
    return this.docs.get(id);
  }

  private candidates(filter: Doc | undefined): Iterable<Doc> {
    const equal = equalityFields(filter);
    const inLists = inFields(filter);
    if (equal.size > 0 || inLists.size > 0) {
      for (const index of this.indexes.values()) {
        if (index.spec.partialFilterExpression || index.spec.sparse) continue;
        const pinned = index.fields.map((f) => equal.get(f));
        if (
          index.fields.every((f) => equal.has(f)) &&
          pinned.every((v) => !Array.isArray(v) && !isDocument(v))
        ) {
          return this.docsFor([index.entries.get(index.keyOfValues(pinned))]);
        }
        const only = index.fields[0] as string;
        const list = inLists.get(only);
        if (
          index.fields.length === 1 &&
          list &&
          list.every((v) => !Array.isArray(v) && !isDocument(v))
        ) {
          return this.docsFor(list.map((v) => index.entries.get(index.keyOfValues([v]))));
        }
      }
      const prefixed = this.byPinnedPrefix(equal);
      if (prefixed) return prefixed;
    }
    return this.docs.values();
  }

  /**
   * The documents in the range of an ordered index whose first fields the filter pins, in natural
   * order.
   */
  private byPinnedPrefix(equal: Map<string, unknown>): Doc[] | null {
    let best: { index: OrderedEntries; width: number } | null = null;
    for (const index of this.walkable()) {
      let width = 0;
      while (width < index.fields.length && equal.has(index.fields[width] as string)) width++;
      if (width > (best?.width ?? 0)) best = { index, width };
    }
    if (!best) return null;
    const prefix = best.index.fields.slice(0, best.width).map((f) => equal.get(f));
    if (prefix.some((v) => Array.isArray(v) || isDocument(v))) return null;
    const [from, to] = best.index.prefixRange(prefix);
    const entries = best.index.entries.slice(from, to).sort((a, b) => a.seq - b.seq);
    return entries.map((e) => this.docs.get(e.id)).filter((d): d is Doc => d !== undefined);
  }

  private docsFor(sets: Array<Set<string> | undefined>): Doc[] {
    const ids = new Set<string>();
    for (const set of sets) if (set) for (const id of set) ids.add(id);
    const out: Doc[] = [];
    // Keep natural order, as a scan would return them.
    if (ids.size > 1) {
      for (const [idKey, doc] of this.docs) if (ids.has(idKey)) out.push(doc);
      return out;
    }
    for (const id of ids) {
      const doc = this.docs.get(id);
      if (doc) out.push(doc);
    }
    return out;
  }

  createIndex(spec: IndexSpec): 'created' | 'exists' {
    for (const existing of this.indexes.values()) {
      const sameKey = renderDocument(existing.spec.key) === renderDocument(spec.key);
      if (existing.spec.name === spec.name) {
        if (sameKey && existing.spec.unique === spec.unique && existing.spec.sparse === spec.sparse)
          return 'exists';
        throw new CommandError(
          86,
          'IndexKeySpecsConflict',
          `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${renderDocument({ v: 2, key: spec.key, name: spec.name })}, existing index: ${renderDocument(existing.describe())}`,
        );
      }
      if (sameKey && !spec.partialFilterExpression && !existing.spec.partialFilterExpression) {
        throw new CommandError(
          85,
          'IndexOptionsConflict',
          `Index already exists with a different name: ${existing.spec.name}`,
        );
      }
    }
    const index = new Index(spec);
    for (const [idKey, doc] of this.docs) {
      const keys = index.keysOf(doc);
      if (index.conflict(idKey, keys) !== null) throw duplicateKeyError(this.ns, index, doc);
      index.add(idKey, keys, doc, this.seqs.get(idKey) ?? 0);
    }
    this.indexes.set(spec.name, index);
    return 'created';
  }

  dropIndex(name: string): void {
    if (name === '_id_') throw new CommandError(72, 'InvalidOptions', 'cannot drop _id index');
    if (!this.indexes.delete(name))
      throw new CommandError(27, 'IndexNotFound', `index not found with name [${name}]`);
  }

  listIndexes(): Doc[] {
    return [...this.indexes.values()].map((i) => i.describe());
  }
}

export function parseIndexSpec(raw: unknown): IndexSpec {
  if (!isDocument(raw) || !isDocument(raw.key) || typeof raw.name !== 'string') {
    throw new CommandError(
      9,
      'FailedToParse',
      'each index specification needs a key document and a name',
    );
  }
  for (const [field, dir] of Object.entries(raw.key)) {
    const n = toNumber(dir);
    if (typeof dir === 'string' || (n !== 1 && n !== -1)) {
      throw notImplemented(
        `index type ${JSON.stringify(String(dir))} on field "${field}" is not supported by the mailbench stand-in (only 1 and -1)`,
      );
    }
  }
  const allowed = new Set([
    'key',
    'name',
    'unique',
    'sparse',
    'partialFilterExpression',
    'v',
    'background',
  ]);
  for (const option of Object.keys(raw)) {
    if (!allowed.has(option))
      throw notImplemented(`index option "${option}" is not supported by the mailbench stand-in`);
  }
  const spec: IndexSpec = {
    name: raw.name,
    key: raw.key,
    unique: truthy(raw.unique),
    sparse: truthy(raw.sparse),
  };
  if (raw.partialFilterExpression !== undefined) {
    if (!isDocument(raw.partialFilterExpression))
      throw badValue('partialFilterExpression must be an object');
    spec.partialFilterExpression = raw.partialFilterExpression;
  }
  return spec;
}

export class Store {
  readonly databases = new Map<string, Map<string, Collection>>();

  collection(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.get(name);
  }

  /** Gets a collection, creating it (and its database) on first write, as mongod does. */
  ensureCollection(db: string, name: string): { collection: Collection; created: boolean } {
    validateName(db, name);
    let collections = this.databases.get(db);
    if (!collections) {
      collections = new Map();
      this.databases.set(db, collections);
    }
    let collection = collections.get(name);
    if (collection) return { collection, created: false };
    collection = new Collection(db, name);
    collections.set(name, collection);
    return { collection, created: true };
  }

  dropCollection(db: string, name: string): Collection | undefined {
    const collections = this.databases.get(db);
    const collection = collections?.get(name);
    if (collections && collection) {
      collections.delete(name);
      if (collections.size === 0) this.databases.delete(db);
    }
    return collection;
  }

  dropDatabase(db: string): void {
    this.databases.delete(db);
  }
}

export function validateName(db: string, name: string): void {
  if (db === '' || /[/\\. "$]/.test(db)) {
    throw new CommandError(73, 'InvalidNamespace', `Invalid database name: '${db}'`);
  }
  if (name === '' || name.includes('$') || name.includes('\0') || name.startsWith('.')) {
    throw new CommandError(73, 'InvalidNamespace', `Invalid collection name: ${name}`);
  }
}
