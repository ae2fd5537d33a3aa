/**
 * The commands the stand-in answers, each with mongod's reply shape. A command
 * that is not here fails with CommandNotFound (59); a field of a known command
 * that the stand-in does not implement fails with NotImplemented (238).
 */
import { BSON, Long, ObjectId } from 'bson';
import { CommandError, badValue, failedToParse, notImplemented, typeMismatch } from './errors.ts';
import { explainCommand } from './explain.ts';
import {
  compileFilter,
  compileProjection,
  equalityFields,
  getPath,
  parseSort,
  sortDocuments,
} from './query.ts';
import { parseIndexSpec, Store, type Collection } from './store.ts';
import { applyOperators, applyReplacement, classifyUpdate } from './update.ts';
import { cloneValue, isDocument, toNumber, truthy, valuesEqual, type Doc } from './values.ts';

export const STANDIN_VERSION = '7.0.0';
export const STANDIN_NAME = 'mailbench-standin';
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
export const MAX_MESSAGE_SIZE = 48_000_000;
export const MAX_WRITE_BATCH_SIZE = 100_000;
const DEFAULT_BATCH = 101;

/** Fields any command may carry that change nothing for a single in-memory node. */
const GENERIC_FIELDS = new Set([
  '$db',
  'lsid',
  '$clusterTime',
  '$readPreference',
  'readConcern',
  'writeConcern',
  'comment',
  'maxTimeMS',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  '$audit',
  'mayBypassWriteBlocking',
]);

export interface Connection {
  id: number;
}

interface Cursor {
  ns: string;
  docs: Doc[];
  position: number;
}

type Handler = (command: Doc, db: string, conn: Connection) => Doc;

export class CommandContext {
  readonly store = new Store();
  private readonly cursors = new Map<string, Cursor>();
  private nextCursorId = BigInt(Math.floor(Math.random() * 2 ** 40)) * 1000n + 1n;
  private readonly startedAt = Date.now();
  private readonly handlers: Record<string, { handler: Handler; fields: string[] }>;

  constructor() {
    const h = (handler: Handler, fields: string[] = []) => ({ handler, fields });
    this.handlers = {
      // The handshake grows new fields with each driver release; a server ignores those it does not
      // know.
      hello: h((_c, _db, conn) => this.hello(conn, false), ['*']),
      isMaster: h((_c, _db, conn) => this.hello(conn, true), ['*']),
      ping: h(() => ({ ok: 1 })),
      buildInfo: h(() => this.buildInfo()),
      endSessions: h(() => ({ ok: 1 })),
      getLastError: h(() => ({ ok: 1, err: null, n: 0 }), ['w', 'j', 'wtimeout', 'fsync']),
      createIndexes: h((c, db) => this.createIndexes(c, db), ['indexes', 'commitQuorum']),
      listIndexes: h((c, db) => this.listIndexes(c, db), ['cursor']),
      dropIndexes: h((c, db) => this.dropIndexes(c, db), ['index']),
      create: h((c, db) => this.create(c, db)),
      insert: h(
        (c, db) => this.insert(c, db),
        ['documents', 'ordered', 'bypassDocumentValidation'],
      ),
      find: h(
        (c, db) => this.find(c, db),
        [
          'filter',
          'projection',
          'sort',
          'skip',
          'limit',
          'batchSize',
          'singleBatch',
          'noCursorTimeout',
        ],
      ),
      getMore: h((c, db) => this.getMore(c, db), ['collection', 'batchSize']),
      killCursors: h((c) => this.killCursors(c), ['cursors']),
      aggregate: h(
        (c, db) => this.aggregate(c, db),
        ['pipeline', 'cursor', 'explain', 'allowDiskUse'],
      ),
      count: h((c, db) => this.count(c, db), ['query', 'skip', 'limit']),
      update: h((c, db) => this.update(c, db), ['updates', 'ordered', 'bypassDocumentValidation']),
      findAndModify: h(
        (c, db) => this.findAndModify(c, db),
        [
          'query',
          'sort',
          'update',
          'new',
          'upsert',
          'remove',
          'fields',
          'bypassDocumentValidation',
        ],
      ),
      delete: h((c, db) => this.delete(c, db), ['deletes', 'ordered']),
      drop: h((c, db) => this.drop(c, db)),
      dropDatabase: h((_c, db) => this.dropDatabase(db)),
      listCollections: h(
        (c, db) => this.listCollections(c, db),
        ['filter', 'nameOnly', 'authorizedCollections', 'cursor'],
      ),
      listDatabases: h((c) => this.listDatabases(c), ['nameOnly', 'filter', 'authorizedDatabases']),
      explain: h((c, db) => explainCommand(this.store, c, db), ['verbosity']),
    };
    // mongod's lower-case aliases.
    this.handlers.ismaster = this.handlers.isMaster!;
    this.handlers.buildinfo = this.handlers.buildInfo!;
    this.handlers.findandmodify = this.handlers.findAndModify!;
  }

  /** Runs one command document; never throws, failures become `{ ok: 0, … }`. */
  run(command: Doc, conn: Connection): Doc {
    const name = Object.keys(command)[0];
    try {
      if (name === undefined) throw failedToParse('empty command');
      const entry = Object.hasOwn(this.handlers, name) ? this.handlers[name] : undefined;
      if (!entry) {
        throw new CommandError(59, 'CommandNotFound', `no such command: '${name}'`);
      }
      const db = typeof command.$db === 'string' ? command.$db : 'admin';
      for (const field of Object.keys(command)) {
        if (
          field === name ||
          GENERIC_FIELDS.has(field) ||
          entry.fields.includes(field) ||
          entry.fields[0] === '*'
        )
          continue;
        if (field === 'txnNumber' || field === 'autocommit' || field === 'startTransaction') {
          throw new CommandError(
            20,
            'IllegalOperation',
            'Transaction numbers are only allowed on a replica set member or mongos',
          );
        }
        throw notImplemented(`${name}.${field} is not supported by the mailbench stand-in`);
      }
      return entry.handler(command, db, conn);
    } catch (err) {
      if (err instanceof CommandError) return err.toReply();
      return {
        ok: 0,
        errmsg: `internal error in the mailbench stand-in: ${(err as Error).message}`,
        code: 1,
        codeName: 'InternalError',
      };
    }
  }

  hello(conn: Connection, legacy: boolean): Doc {
    const reply: Doc = {
      helloOk: true,
      [legacy ? 'ismaster' : 'isWritablePrimary']: true,
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      maxMessageSizeBytes: MAX_MESSAGE_SIZE,
      maxWriteBatchSize: MAX_WRITE_BATCH_SIZE,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: conn.id,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
      ok: 1,
    };
    return reply;
  }

  buildInfo(): Doc {
    return {
      version: STANDIN_VERSION,
      gitVersion: STANDIN_NAME,
      versionArray: [7, 0, 0, 0],
      bits: 64,
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      storageEngines: ['mailbench-memory'],
      mailbenchStandin: true,
      uptimeMs: Date.now() - this.startedAt,
      ok: 1,
    };
  }

  private collectionName(command: Doc, field: string): string {
    const value = command[field];
    if (typeof value !== 'string') {
      throw new CommandError(
        73,
        'InvalidNamespace',
        `collection name has invalid type ${Array.isArray(value) ? 'array' : typeof value}`,
      );
    }
    return value;
  }

  private createIndexes(command: Doc, db: string): Doc {
    const name = this.collectionName(command, Object.keys(command)[0] as string);
    const indexes = command.indexes;
    if (!Array.isArray(indexes) || indexes.length === 0)
      throw badValue('Must specify at least one index to create');
    const specs = indexes.map(parseIndexSpec);
    const { collection, created } = this.store.ensureCollection(db, name);
    const before = collection.indexes.size;
    let allExisted = true;
    for (const spec of specs) if (collection.createIndex(spec) === 'created') allExisted = false;
    const reply: Doc = {
      numIndexesBefore: before,
      numIndexesAfter: collection.indexes.size,
      createdCollectionAutomatically: created,
      ok: 1,
    };
    if (allExisted) reply.note = 'all indexes already exist';
    return reply;
  }

  private listIndexes(command: Doc, db: string): Doc {
    const name = this.collectionName(command, Object.keys(command)[0] as string);
    const collection = this.store.collection(db, name);
    if (!collection)
      throw new CommandError(26, 'NamespaceNotFound', `ns does not exist: ${db}.${name}`);
    return this.cursorReply(
      `${db}.${name}`,
      collection.listIndexes(),
      batchSizeOf(command.cursor),
      false,
    );
  }

  private dropIndexes(command: Doc, db: string): Doc {
    const name = this.collectionName(command, Object.keys(command)[0] as string);
    const collection = this.store.collection(db, name);
    if (!collection) throw new CommandError(26, 'NamespaceNotFound', `ns not found ${db}.${name}`);
    const before = collection.indexes.size;
    const index = command.index;
    if (index === '*') {
      for (const n of [...collection.indexes.keys()]) if (n !== '_id_') collection.dropIndex(n);
    } else if (typeof index === 'string') {
      collection.dropIndex(index);
    } else if (Array.isArray(index)) {
      for (const n of index) collection.dropIndex(String(n));
    } else {
      throw notImplemented(
        'dropIndexes by key pattern is not supported by the mailbench stand-in; give the index name',
      );
    }
    return { nIndexesWas: before, ok: 1 };
  }

  private create(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'create');
    if (this.store.collection(db, name))
      throw new CommandError(48, 'NamespaceExists', `Collection ${db}.${name} already exists.`);
    this.store.ensureCollection(db, name);
    return { ok: 1 };
  }

  private insert(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'insert');
    const documents = command.documents;
    if (!Array.isArray(documents))
      throw typeMismatch("BSON field 'insert.documents' is missing or not an array");
    if (documents.length > MAX_WRITE_BATCH_SIZE) {
      throw new CommandError(
        16,
        'InvalidLength',
        `Write batch sizes must be between 1 and ${MAX_WRITE_BATCH_SIZE}. Got ${documents.length} operations.`,
      );
    }
    const ordered = command.ordered === undefined ? true : truthy(command.ordered);
    const { collection } = this.store.ensureCollection(db, name);
    let n = 0;
    const writeErrors: Doc[] = [];
    for (let i = 0; i < documents.length; i++) {
      try {
        const raw = documents[i];
        if (!isDocument(raw)) throw typeMismatch('a document to insert must be an object');
        collection.insert(prepareForInsert(raw));
        n++;
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        writeErrors.push({ index: i, code: err.code, errmsg: err.message, ...err.extra });
        if (ordered) break;
      }
    }
    const reply: Doc = { n, ok: 1 };
    if (writeErrors.length > 0) reply.writeErrors = writeErrors;
    return reply;
  }

  private find(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'find');
    const filter = optionalDocument(command, 'filter', 'find');
    const projection = compileProjection(command.projection);
    const sort = parseSort(command.sort);
    const skip = nonNegative(command.skip, 'skip');
    let limit = command.limit === undefined ? 0 : toNumber(command.limit);
    let singleBatch = truthy(command.singleBatch);
    if (limit < 0) {
      limit = -limit;
      singleBatch = true;
    }
    const collection = this.store.collection(db, name);
    let docs: Doc[] = [];
    if (collection) {
      docs = collection.findSorted(filter, sort, limit > 0 ? skip + limit : 0);
      if (skip > 0) docs = docs.slice(skip);
      if (limit > 0) docs = docs.slice(0, limit);
    }
    const out = projection ? docs.map(projection) : docs;
    const batchSize =
      command.batchSize === undefined ? DEFAULT_BATCH : nonNegative(command.batchSize, 'batchSize');
    return this.cursorReply(`${db}.${name}`, out, batchSize, singleBatch);
  }

  private cursorReply(
    ns: string,
    docs: Doc[],
    batchSize: number | undefined,
    singleBatch: boolean,
  ): Doc {
    const size =
      batchSize === undefined || batchSize === 0
        ? singleBatch
          ? docs.length
          : Math.min(DEFAULT_BATCH, docs.length)
        : batchSize;
    const first = takeBatch(docs, 0, size);
    let id = Long.ZERO;
    if (!singleBatch && first.length < docs.length) {
      const key = (this.nextCursorId++).toString();
      this.cursors.set(key, { ns, docs, position: first.length });
      id = Long.fromBigInt(BigInt(key));
    }
    return { cursor: { firstBatch: first, id, ns }, ok: 1 };
  }

  private getMore(command: Doc, db: string): Doc {
    const raw = command.getMore;
    if (!(raw instanceof Long)) {
      throw typeMismatch(
        `BSON field 'getMore.getMore' is the wrong type '${typeof raw}', expected type 'long'`,
      );
    }
    const key = raw.toBigInt().toString();
    const cursor = this.cursors.get(key);
    if (!cursor) throw new CommandError(43, 'CursorNotFound', `cursor id ${key} not found`);
    const collection = this.collectionName(command, 'collection');
    if (cursor.ns !== `${db}.${collection}`) {
      throw new CommandError(
        13,
        'Unauthorized',
        `Requested getMore on namespace '${db}.${collection}', but cursor belongs to a different namespace ${cursor.ns}`,
      );
    }
    const batchSize =
      command.batchSize === undefined ? 0 : nonNegative(command.batchSize, 'batchSize');
    const next = takeBatch(
      cursor.docs,
      cursor.position,
      batchSize === 0 ? Number.POSITIVE_INFINITY : batchSize,
    );
    cursor.position += next.length;
    let id = raw;
    if (cursor.position >= cursor.docs.length) {
      this.cursors.delete(key);
      id = Long.ZERO;
    }
    return { cursor: { nextBatch: next, id, ns: cursor.ns }, ok: 1 };
  }

  private killCursors(command: Doc): Doc {
    const ids = command.cursors;
    if (!Array.isArray(ids))
      throw typeMismatch("BSON field 'killCursors.cursors' is missing or not an array");
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of ids) {
      const key = id instanceof Long ? id.toBigInt().toString() : String(id);
      (this.cursors.delete(key) ? killed : notFound).push(
        id instanceof Long ? id : Long.fromString(key),
      );
    }
    return {
      cursorsKilled: killed,
      cursorsNotFound: notFound,
      cursorsAlive: [],
      cursorsUnknown: [],
      ok: 1,
    };
  }

  private aggregate(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'aggregate');
    if (command.explain)
      throw notImplemented('aggregate explain is not supported by the mailbench stand-in');
    const pipeline = command.pipeline;
    if (!Array.isArray(pipeline))
      throw typeMismatch("'pipeline' option must be specified as an array");
    if (!isDocument(command.cursor))
      throw failedToParse(
        "The 'cursor' option is required, except for aggregate with the explain argument",
      );
    const collection = this.store.collection(db, name);
    let docs: Doc[] = collection ? [...collection.docs.values()] : [];
    let first = true;
    for (const stage of pipeline) {
      if (!isDocument(stage) || Object.keys(stage).length !== 1) {
        throw new CommandError(
          40323,
          'Location40323',
          'A pipeline stage specification object must contain exactly one field.',
        );
      }
      const [op, arg] = Object.entries(stage)[0] as [string, unknown];
      switch (op) {
        case '$match':
          if (!isDocument(arg)) throw badValue('$match must be an object');
          docs = first && collection ? collection.find(arg) : docs.filter(compilePredicate(arg));
          break;
        case '$sort':
          docs = sortDocuments(docs.slice(), parseSort(arg));
          break;
        case '$skip':
          docs = docs.slice(nonNegative(arg, '$skip'));
          break;
        case '$limit': {
          const n = nonNegative(arg, '$limit');
          if (n === 0) throw new CommandError(15958, 'Location15958', 'the limit must be positive');
          docs = docs.slice(0, n);
          break;
        }
        case '$project': {
          const projector = compileProjection(arg);
          if (projector) docs = docs.map(projector);
          break;
        }
        case '$count': {
          if (typeof arg !== 'string' || arg === '' || arg.startsWith('$') || arg.includes('.')) {
            throw new CommandError(
              40156,
              'Location40156',
              'the count field must be a non-empty string without $ or .',
            );
          }
          docs = docs.length === 0 ? [] : [{ [arg]: docs.length }];
          break;
        }
        case '$group':
          docs = group(docs, arg);
          break;
        default:
          throw new CommandError(
            40324,
            'Location40324',
            `Unrecognized pipeline stage name: '${op}'`,
          );
      }
      first = false;
    }
    return this.cursorReply(`${db}.${name}`, docs, batchSizeOf(command.cursor), false);
  }

  private count(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'count');
    const collection = this.store.collection(db, name);
    if (!collection) return { n: 0, ok: 1 };
    const query = optionalDocument(command, 'query', 'count');
    let n =
      query && Object.keys(query).length > 0 ? collection.find(query).length : collection.docs.size;
    const skip = nonNegative(command.skip, 'skip');
    n = Math.max(0, n - skip);
    const limit = command.limit === undefined ? 0 : Math.abs(toNumber(command.limit));
    if (limit > 0) n = Math.min(n, limit);
    return { n, ok: 1 };
  }

  private update(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'update');
    const updates = command.updates;
    if (!Array.isArray(updates))
      throw typeMismatch("BSON field 'update.updates' is missing or not an array");
    const ordered = command.ordered === undefined ? true : truthy(command.ordered);
    let n = 0;
    let nModified = 0;
    const upserted: Doc[] = [];
    const writeErrors: Doc[] = [];
    for (let i = 0; i < updates.length; i++) {
      try {
        const statement = updates[i];
        if (!isDocument(statement)) throw typeMismatch('each update statement must be an object');
        for (const field of Object.keys(statement)) {
          if (!['q', 'u', 'multi', 'upsert', 'collation', 'arrayFilters', 'hint'].includes(field)) {
            throw notImplemented(
              `update statement field '${field}' is not supported by the mailbench stand-in`,
            );
          }
          if (field === 'collation' || field === 'arrayFilters' || field === 'hint') {
            throw notImplemented(`update.${field} is not supported by the mailbench stand-in`);
          }
        }
        const q = isDocument(statement.q) ? statement.q : {};
        const multi = truthy(statement.multi);
        const result = this.applyUpdate(db, name, q, statement.u, {
          multi,
          upsert: truthy(statement.upsert),
          sort: [],
        });
        n += result.matched;
        nModified += result.modified;
        if (result.upsertedId !== undefined) {
          n += 1;
          upserted.push({ index: i, _id: result.upsertedId });
        }
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        writeErrors.push({ index: i, code: err.code, errmsg: err.message, ...err.extra });
        if (ordered) break;
      }
    }
    const reply: Doc = { n, nModified, ok: 1 };
    if (upserted.length > 0) reply.upserted = upserted;
    if (writeErrors.length > 0) reply.writeErrors = writeErrors;
    return reply;
  }

  /** Shared by update and findAndModify: matches, applies, keeps indexes, upserts. */
  private applyUpdate(
    db: string,
    name: string,
    filter: Doc,
    update: unknown,
    options: { multi: boolean; upsert: boolean; sort: Array<[string, 1 | -1]> },
  ): { matched: number; modified: number; upsertedId?: unknown; before?: Doc; after?: Doc } {
    const kind = classifyUpdate(update);
    if (kind === 'replacement' && options.multi)
      throw failedToParse('multi update is not supported for replacement-style update');
    const existing = this.store.collection(db, name);
    const targets = existing
      ? existing.findSorted(filter, options.sort, options.multi ? 0 : 1)
      : [];
    if (targets.length === 0) {
      if (!options.upsert) return { matched: 0, modified: 0 };
      const { collection } = this.store.ensureCollection(db, name);
      const seed: Doc = {};
      for (const [path, value] of equalityFields(filter)) {
        if (!path.includes('.') && !path.startsWith('$')) seed[path] = cloneValue(value);
      }
      let doc: Doc;
      if (kind === 'replacement') {
        doc = applyReplacement({}, update as Doc);
        if (doc._id === undefined && seed._id !== undefined) doc = { _id: seed._id, ...doc };
      } else {
        doc = applyOperators(seed, update as Doc, true).doc;
      }
      doc = prepareForInsert(doc);
      collection.insert(doc);
      return { matched: 0, modified: 0, upsertedId: doc._id, after: doc };
    }
    const collection = existing as Collection;
    let modified = 0;
    let lastBefore: Doc | undefined;
    let lastAfter: Doc | undefined;
    for (const before of targets) {
      let after: Doc;
      let changed: boolean;
      if (kind === 'replacement') {
        after = applyReplacement(before, update as Doc);
        changed = !Buffer.from(BSON.serialize(after)).equals(BSON.serialize(before));
      } else {
        ({ doc: after, changed } = applyOperators(before, update as Doc, false));
        if (!valuesEqual(after._id, before._id)) {
          throw new CommandError(
            66,
            'ImmutableField',
            "Performing an update on the path '_id' would modify the immutable field '_id'",
          );
        }
      }
      if (changed) {
        checkSize(after);
        collection.replace(before, after);
        modified++;
      }
      lastBefore = before;
      lastAfter = changed ? after : before;
    }
    const result: { matched: number; modified: number; before?: Doc; after?: Doc } = {
      matched: targets.length,
      modified,
    };
    if (lastBefore) result.before = lastBefore;
    if (lastAfter) result.after = lastAfter;
    return result;
  }

  private findAndModify(command: Doc, db: string): Doc {
    const name = this.collectionName(command, Object.keys(command)[0] as string);
    const query = optionalDocument(command, 'query', 'findAndModify') ?? {};
    const sort = parseSort(command.sort);
    const remove = truthy(command.remove);
    const returnNew = truthy(command.new);
    const upsert = truthy(command.upsert);
    const projection = compileProjection(command.fields);
    const shape = (doc: Doc | undefined) =>
      doc === undefined ? null : projection ? projection(doc) : doc;
    if (remove) {
      if (command.update !== undefined)
        throw failedToParse('Cannot specify both an update and remove=true');
      if (upsert) throw failedToParse('Cannot specify both upsert=true and remove=true');
      if (returnNew)
        throw failedToParse(
          "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document",
        );
      const collection = this.store.collection(db, name);
      const target = collection ? collection.findSorted(query, sort, 1)[0] : undefined;
      if (target && collection) collection.delete(target);
      return { lastErrorObject: { n: target ? 1 : 0 }, value: shape(target), ok: 1 };
    }
    if (command.update === undefined)
      throw failedToParse('Either an update or remove=true must be specified');
    // A duplicate key here is thrown, so it becomes a top-level error as mongod reports it.
    const result = this.applyUpdate(db, name, query, command.update, {
      multi: false,
      upsert,
      sort,
    });
    if (result.upsertedId !== undefined) {
      return {
        lastErrorObject: { n: 1, updatedExisting: false, upserted: result.upsertedId },
        value: returnNew ? shape(result.after) : null,
        ok: 1,
      };
    }
    return {
      lastErrorObject: { n: result.matched, updatedExisting: result.matched > 0 },
      value: shape(returnNew ? result.after : result.before),
      ok: 1,
    };
  }

  private delete(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'delete');
    const deletes = command.deletes;
    if (!Array.isArray(deletes))
      throw typeMismatch("BSON field 'delete.deletes' is missing or not an array");
    const collection = this.store.collection(db, name);
    let n = 0;
    for (const statement of deletes) {
      if (!isDocument(statement)) throw typeMismatch('each delete statement must be an object');
      for (const field of Object.keys(statement)) {
        if (field !== 'q' && field !== 'limit')
          throw notImplemented(
            `delete statement field '${field}' is not supported by the mailbench stand-in`,
          );
      }
      const limit = toNumber(statement.limit);
      if (limit !== 0 && limit !== 1)
        throw failedToParse('The limit field in delete objects must be 0 or 1');
      if (!collection) continue;
      const q = isDocument(statement.q) ? statement.q : {};
      for (const doc of collection.find(q, limit)) {
        collection.delete(doc);
        n++;
      }
    }
    return { n, ok: 1 };
  }

  private drop(command: Doc, db: string): Doc {
    const name = this.collectionName(command, 'drop');
    const dropped = this.store.dropCollection(db, name);
    // Like mongod 7.0: dropping a collection that does not exist succeeds.
    for (const [key, cursor] of this.cursors)
      if (cursor.ns === `${db}.${name}`) this.cursors.delete(key);
    return dropped ? { nIndexesWas: dropped.indexes.size, ns: `${db}.${name}`, ok: 1 } : { ok: 1 };
  }

  private dropDatabase(db: string): Doc {
    this.store.dropDatabase(db);
    for (const [key, cursor] of this.cursors)
      if (cursor.ns.startsWith(`${db}.`)) this.cursors.delete(key);
    return { dropped: db, ok: 1 };
  }

  private listCollections(command: Doc, db: string): Doc {
    const filter = optionalDocument(command, 'filter', 'listCollections');
    const nameOnly = truthy(command.nameOnly);
    const collections = [...(this.store.databases.get(db)?.values() ?? [])];
    let docs: Doc[] = collections.map((c) =>
      nameOnly
        ? { name: c.name, type: 'collection' }
        : {
            name: c.name,
            type: 'collection',
            options: {},
            info: { readOnly: false, uuid: c.uuid },
            idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
          },
    );
    if (filter) docs = docs.filter(compilePredicate(filter));
    return this.cursorReply(`${db}.$cmd.listCollections`, docs, batchSizeOf(command.cursor), false);
  }

  private listDatabases(command: Doc): Doc {
    const nameOnly = truthy(command.nameOnly);
    const filter = optionalDocument(command, 'filter', 'listDatabases');
    let databases: Doc[] = [...this.store.databases.entries()].map(([name, collections]) => {
      if (nameOnly) return { name };
      let size = 0;
      for (const c of collections.values())
        for (const d of c.docs.values()) size += BSON.calculateObjectSize(d);
      return { name, sizeOnDisk: size, empty: size === 0 };
    });
    if (filter) databases = databases.filter(compilePredicate(filter));
    const reply: Doc = { databases, ok: 1 };
    if (!nameOnly)
      reply.totalSize = databases.reduce((sum, d) => sum + toNumber(d.sizeOnDisk ?? 0), 0);
    return reply;
  }
}

function compilePredicate(filter: Doc): (doc: Doc) => boolean {
  return compileFilter(filter);
}

function group(docs: Doc[], spec: unknown): Doc[] {
  if (!isDocument(spec) || !Object.hasOwn(spec, '_id')) {
    throw new CommandError(15955, 'Location15955', 'a group specification must include an _id');
  }
  const keyOf = (doc: Doc): unknown => {
    const id = spec._id;
    if (typeof id === 'string' && id.startsWith('$')) return getPath(doc, id.slice(1)) ?? null;
    if (isDocument(id))
      throw notImplemented('$group with a compound _id is not supported by the mailbench stand-in');
    return id;
  };
  const accumulators = Object.entries(spec)
    .filter(([k]) => k !== '_id')
    .map(([field, acc]) => {
      if (!isDocument(acc) || Object.keys(acc).length !== 1) {
        throw new CommandError(
          40234,
          'Location40234',
          `The field '${field}' must be an accumulator object`,
        );
      }
      const [op, arg] = Object.entries(acc)[0] as [string, unknown];
      if (op !== '$sum')
        throw notImplemented(
          `accumulator ${op} is not supported by the mailbench stand-in (only $sum)`,
        );
      return { field, arg };
    });
  const groups = new Map<string, { id: unknown; sums: number[] }>();
  for (const doc of docs) {
    const id = keyOf(doc);
    const key = JSON.stringify(id instanceof ObjectId ? id.toHexString() : id);
    let g = groups.get(key);
    if (!g) {
      g = { id, sums: accumulators.map(() => 0) };
      groups.set(key, g);
    }
    accumulators.forEach(({ arg }, i) => {
      const value =
        typeof arg === 'string' && arg.startsWith('$') ? getPath(doc, arg.slice(1)) : arg;
      const n = toNumber(value);
      if (!Number.isNaN(n)) g.sums[i] = (g.sums[i] ?? 0) + n;
    });
  }
  return [...groups.values()].map((g) => {
    const out: Doc = { _id: g.id };
    accumulators.forEach(({ field }, i) => {
      out[field] = g.sums[i];
    });
    return out;
  });
}

function optionalDocument(command: Doc, field: string, commandName: string): Doc | undefined {
  const value = command[field];
  if (value === undefined || value === null) return undefined;
  if (!isDocument(value)) {
    throw typeMismatch(
      `BSON field '${commandName}.${field}' is the wrong type '${Array.isArray(value) ? 'array' : typeof value}', expected type 'object'`,
    );
  }
  return value;
}

function nonNegative(value: unknown, name: string): number {
  if (value === undefined || value === null) return 0;
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 0)
    throw badValue(`${name} must be a non-negative integer, got ${String(value)}`);
  return n;
}

function batchSizeOf(cursor: unknown): number | undefined {
  if (!isDocument(cursor) || cursor.batchSize === undefined) return undefined;
  return nonNegative(cursor.batchSize, 'batchSize');
}

/** Takes up to `count` documents from `start`, keeping the batch under the BSON size limit. */
function takeBatch(docs: Doc[], start: number, count: number): Doc[] {
  const out: Doc[] = [];
  let bytes = 0;
  const budget = MAX_BSON_OBJECT_SIZE - 64 * 1024;
  for (let i = start; i < docs.length && out.length < count; i++) {
    const doc = docs[i] as Doc;
    if (docs.length - start > 100) {
      bytes += BSON.calculateObjectSize(doc);
      if (bytes > budget && out.length > 0) break;
    }
    out.push(doc);
  }
  return out;
}

function checkSize(doc: Doc): void {
  const size = BSON.calculateObjectSize(doc);
  if (size > MAX_BSON_OBJECT_SIZE) {
    throw new CommandError(
      10334,
      'BSONObjectTooLarge',
      `BSONObj size: ${size} (0x${size.toString(16)}) is invalid. Size must be between 0 and 16793600(16MB)`,
    );
  }
}

/** Gives the document an _id (first) if it has none, refuses arrays and oversized documents. */
function prepareForInsert(raw: Doc): Doc {
  if (Array.isArray(raw._id)) throw badValue("can't use an array for _id");
  if (raw._id instanceof RegExp) throw badValue("can't use a regex for _id");
  checkSize(raw);
  if (Object.keys(raw)[0] === '_id') return raw;
  const out: Doc = { _id: raw._id === undefined ? new ObjectId() : raw._id };
  for (const [k, v] of Object.entries(raw)) if (k !== '_id') out[k] = v;
  return out;
}
