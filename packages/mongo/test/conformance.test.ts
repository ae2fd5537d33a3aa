/**
 * One conformance suite, run through the official driver against the stand-in always,
 * and against a real mongod whenever MONGODB_URI is set: the same observable results
 * are asserted for both, so the stand-in's fidelity is checked, not assumed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Double,
  Int32,
  Long,
  MongoClient,
  type MongoServerError,
  ObjectId,
  type Db,
} from 'mongodb';
import { startStandin, type MongoHandle } from '../src/index.ts';

interface Target {
  name: string;
  start(): Promise<{ uri: string; stop(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: 'stand-in',
    start: async () => {
      const handle: MongoHandle = await startStandin();
      return { uri: handle.uri, stop: () => handle.stop() };
    },
  },
];
const externalUri = process.env.MONGODB_URI;
if (externalUri)
  targets.push({
    name: 'MONGODB_URI',
    start: async () => ({ uri: externalUri, stop: async () => {} }),
  });
else
  describe.skip('conformance against a real mongod (skipped: set MONGODB_URI to run it)', () =>
    it('needs MONGODB_URI', () => {}));

async function rejectionOf(promise: Promise<unknown>): Promise<MongoServerError> {
  try {
    await promise;
  } catch (err) {
    return err as MongoServerError;
  }
  throw new Error('expected the operation to fail');
}

for (const target of targets) {
  describe(`MongoDB conformance: ${target.name}`, () => {
    let server: { uri: string; stop(): Promise<void> };
    let client: MongoClient;
    let db: Db;
    let dbIndex = 0;
    const dbs: Db[] = [];

    const freshDb = () => {
      const d = client.db(`mb_conf_${process.pid}_${Date.now()}_${dbIndex++}`);
      dbs.push(d);
      return d;
    };

    beforeAll(async () => {
      server = await target.start();
      client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
      await client.connect();
      db = freshDb();
    });

    afterAll(async () => {
      for (const d of dbs) await d.dropDatabase().catch(() => {});
      await client?.close();
      await server?.stop();
    });

    it('answers ping, hello and buildInfo', async () => {
      expect(await db.admin().ping()).toMatchObject({ ok: 1 });
      const hello = await db.admin().command({ hello: 1 });
      expect(hello).toMatchObject({ isWritablePrimary: true, ok: 1 });
      expect(hello.maxWireVersion).toBeGreaterThanOrEqual(8);
      expect(hello.maxBsonObjectSize).toBe(16 * 1024 * 1024);
      const info = await db.admin().command({ buildInfo: 1 });
      expect(info.version).toMatch(/^\d+\.\d+/);
    });

    it('inserts with kind-1 sequences, keeps number types, puts _id first', async () => {
      const c = freshDb().collection('types');
      await c.insertMany([
        {
          i: new Int32(1),
          d: new Double(2),
          l: Long.fromNumber(3),
          s: 'x',
          nested: { a: new Double(1) },
        },
      ]);
      await c.insertOne({ name: 'late-id', _id: 'custom' } as never);
      const raw = await c.findOne({ s: 'x' }, { promoteValues: false });
      expect(raw?.i).toBeInstanceOf(Int32);
      expect(raw?.d).toBeInstanceOf(Double);
      expect(raw?.l).toBeInstanceOf(Long);
      expect((raw!.nested as { a: unknown }).a).toBeInstanceOf(Double);
      const custom = await c.findOne({ _id: 'custom' as never });
      expect(Object.keys(custom ?? {})[0]).toBe('_id');
    });

    it('reports duplicate keys in writeErrors with mongod errmsg, keyPattern and keyValue', async () => {
      const d = freshDb();
      const users = d.collection('users');
      await users.createIndex({ email: 1 }, { unique: true });
      await users.insertOne({ email: 'a@example.test' });
      const err = await rejectionOf(users.insertOne({ email: 'a@example.test' }));
      expect(err.code).toBe(11000);
      expect(err.message).toBe(
        `E11000 duplicate key error collection: ${d.databaseName}.users index: email_1 dup key: { email: "a@example.test" }`,
      );
      expect(err.keyPattern).toEqual({ email: 1 });
      expect(err.keyValue).toEqual({ email: 'a@example.test' });
      // Unordered inserts go on past the duplicate.
      const bulk = await rejectionOf(
        users.insertMany([{ email: 'b@x' }, { email: 'a@example.test' }, { email: 'c@x' }], {
          ordered: false,
        }),
      );
      expect((bulk as unknown as { result: { insertedCount: number } }).result.insertedCount).toBe(
        2,
      );
      expect(await users.countDocuments()).toBe(3);
    });

    it('enforces compound unique indexes and reports them', async () => {
      const d = freshDb();
      const c = d.collection('pairs');
      await c.createIndex({ a: 1, b: -1 }, { unique: true });
      await c.insertMany([
        { a: 1, b: 1 },
        { a: 1, b: 2 },
      ]);
      const err = await rejectionOf(c.insertOne({ a: 1, b: 2 }));
      expect(err.code).toBe(11000);
      expect(err.message).toContain('index: a_1_b_-1 dup key: { a: 1, b: 2 }');
      expect(err.keyPattern).toEqual({ a: 1, b: -1 });
    });

    it('compares unique keys exactly: long integers beyond 2^53, strings holding the key separator', async () => {
      const c = freshDb().collection('exact');
      await c.createIndex({ n: 1 }, { unique: true });
      await c.insertOne({ n: Long.fromBigInt(2n ** 53n) });
      // 2^53 + 1 is not 2^53, although a double cannot tell them apart.
      await c.insertOne({ n: Long.fromBigInt(2n ** 53n + 1n) });
      const same = await rejectionOf(c.insertOne({ n: new Double(2 ** 53) }));
      expect(same.code).toBe(11000);
      expect(await c.countDocuments({ n: Long.fromBigInt(2n ** 53n + 1n) })).toBe(1);
      const pairs = freshDb().collection('exact_pairs');
      await pairs.createIndex({ a: 1, b: 1 }, { unique: true });
      await pairs.insertOne({ a: 'x\u0000sy', b: 'z' });
      await pairs.insertOne({ a: 'x', b: 'y\u0000sz' });
      expect(await pairs.countDocuments()).toBe(2);
      const dup = await rejectionOf(pairs.insertOne({ a: 'x', b: 'y\u0000sz' }));
      expect(dup.code).toBe(11000);
    });

    it('reports a duplicate _id', async () => {
      const d = freshDb();
      const c = d.collection('ids');
      await c.insertOne({ _id: new ObjectId('64b7f0f0f0f0f0f0f0f0f0f0') });
      const err = await rejectionOf(c.insertOne({ _id: new ObjectId('64b7f0f0f0f0f0f0f0f0f0f0') }));
      expect(err.code).toBe(11000);
      expect(err.message).toContain(
        "index: _id_ dup key: { _id: ObjectId('64b7f0f0f0f0f0f0f0f0f0f0') }",
      );
    });

    it('lists, creates idempotently and conflicts on indexes', async () => {
      const c = freshDb().collection('idx');
      await c.createIndex({ email: 1 }, { unique: true });
      await c.createIndex({ email: 1 }, { unique: true }); // same spec: no error
      await c.createIndex({ createdAt: -1 });
      const indexes = await c.listIndexes().toArray();
      expect(indexes.map((i) => i.name)).toEqual(['_id_', 'email_1', 'createdAt_-1']);
      expect(indexes.find((i) => i.name === 'email_1')).toMatchObject({
        key: { email: 1 },
        unique: true,
      });
      const err = await rejectionOf(c.createIndex({ email: 1 }, { name: 'other' }));
      expect(err.code).toBe(85);
      const missing = await rejectionOf(freshDb().collection('nope').listIndexes().toArray());
      expect(missing.code).toBe(26);
    });

    it('finds with filter operators, dotted paths and arrays', async () => {
      const c = freshDb().collection('people');
      await c.insertMany([
        { name: 'ann', age: 30, tags: ['a', 'b'], address: { city: 'Oslo' } },
        { name: 'bob', age: 25, tags: ['b'], address: { city: 'Rome' } },
        { name: 'cid', age: 35, address: { city: 'Oslo' } },
        { name: 'dan', age: new Double(25.0) },
      ]);
      const names = async (filter: object) =>
        (await c.find(filter).sort({ name: 1 }).toArray()).map((d) => d.name);
      expect(await names({ 'address.city': 'Oslo' })).toEqual(['ann', 'cid']);
      expect(await names({ tags: 'b' })).toEqual(['ann', 'bob']);
      expect(await names({ tags: ['b'] })).toEqual(['bob']);
      expect(await names({ age: 25 })).toEqual(['bob', 'dan']);
      expect(await names({ age: { $eq: 30 } })).toEqual(['ann']);
      expect(await names({ age: { $ne: 25 } })).toEqual(['ann', 'cid']);
      expect(await names({ age: { $gt: 25, $lte: 35 } })).toEqual(['ann', 'cid']);
      expect(await names({ age: { $gte: 30 } })).toEqual(['ann', 'cid']);
      expect(await names({ age: { $lt: 30 } })).toEqual(['bob', 'dan']);
      expect(await names({ name: { $in: ['bob', 'cid', 'zed'] } })).toEqual(['bob', 'cid']);
      expect(await names({ name: { $nin: ['bob', 'cid'] } })).toEqual(['ann', 'dan']);
      expect(await names({ tags: { $exists: true } })).toEqual(['ann', 'bob']);
      expect(await names({ tags: { $exists: false } })).toEqual(['cid', 'dan']);
      expect(await names({ $or: [{ age: 35 }, { name: 'bob' }] })).toEqual(['bob', 'cid']);
      expect(await names({ $and: [{ age: { $gte: 25 } }, { 'address.city': 'Oslo' }] })).toEqual([
        'ann',
        'cid',
      ]);
      expect(await names({ age: { $gt: 'a' } })).toEqual([]); // no cross-type ordering
      expect(await names({ missing: null })).toEqual(['ann', 'bob', 'cid', 'dan']);
    });

    it('projects, sorts, skips and limits', async () => {
      const c = freshDb().collection('proj');
      await c.insertMany(
        Array.from({ length: 10 }, (_, i) => ({ n: i, odd: i % 2 === 1, inner: { x: i, y: -i } })),
      );
      const docs = await c
        .find({}, { projection: { _id: 0, n: 1, 'inner.x': 1 } })
        .sort({ odd: -1, n: -1 })
        .skip(1)
        .limit(3)
        .toArray();
      expect(docs).toEqual([
        { n: 7, inner: { x: 7 } },
        { n: 5, inner: { x: 5 } },
        { n: 3, inner: { x: 3 } },
      ]);
      const excluded = await c.findOne({ n: 2 }, { projection: { inner: 0, _id: 0 } });
      expect(excluded).toEqual({ n: 2, odd: false });
      const err = await rejectionOf(c.find({}, { projection: { n: 1, odd: 0 } }).toArray());
      expect(err.code).toBe(31254);
    });

    it('iterates cursors across getMore (no batchSize) and kills them', async () => {
      const c = freshDb().collection('many');
      await c.insertMany(Array.from({ length: 450 }, (_, i) => ({ i })));
      const all = await c.find({}).sort({ i: 1 }).toArray();
      expect(all.length).toBe(450);
      expect(all[449]?.i).toBe(449);
      const batched = await c.find({}, { batchSize: 100 }).toArray();
      expect(batched.length).toBe(450);
      const cursor = c.find({}, { batchSize: 10 });
      await cursor.next();
      expect(cursor.id?.toString()).not.toBe('0');
      await cursor.close(); // killCursors
      const afterKill = await rejectionOf(
        db.command({ getMore: cursor.id as Long, collection: 'many' }),
      );
      expect(afterKill.code).toBe(43);
    });

    it('counts with countDocuments, count and estimatedDocumentCount', async () => {
      const c = freshDb().collection('counts');
      await c.insertMany(Array.from({ length: 25 }, (_, i) => ({ i, even: i % 2 === 0 })));
      expect(await c.countDocuments()).toBe(25);
      expect(await c.countDocuments({ even: true })).toBe(13);
      expect(await c.countDocuments({ even: true }, { skip: 3, limit: 5 })).toBe(5);
      expect(await c.estimatedDocumentCount()).toBe(25);
      expect(await c.countDocuments({ i: { $gt: 100 } })).toBe(0);
      const counted = await c.aggregate([{ $match: { even: false } }, { $count: 'odd' }]).toArray();
      expect(counted).toEqual([{ odd: 12 }]);
      const grouped = await c
        .aggregate([{ $group: { _id: '$even', n: { $sum: 1 } } }, { $sort: { _id: 1 } }])
        .toArray();
      expect(grouped).toEqual([
        { _id: false, n: 12 },
        { _id: true, n: 13 },
      ]);
      const stage = await rejectionOf(c.aggregate([{ $lookup: { from: 'x' } }]).toArray());
      expect(stage.code).toBe(40324);
    });

    it('updates with $set, $unset, $inc, $setOnInsert and upsert', async () => {
      const c = freshDb().collection('upd');
      await c.insertMany([
        { k: 1, n: new Int32(1), gone: true },
        { k: 2, n: new Int32(5) },
      ]);
      const r1 = await c.updateOne(
        { k: 1 },
        { $set: { 'a.b': 'deep' }, $unset: { gone: '' }, $inc: { n: 2 } },
      );
      expect(r1).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
      const one = await c.findOne({ k: 1 }, { projection: { _id: 0 }, promoteValues: false });
      expect(one).toEqual({ k: new Int32(1), n: new Int32(3), a: { b: 'deep' } });
      const same = await c.updateOne({ k: 2 }, { $set: { n: new Int32(5) } });
      expect(same).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
      const many = await c.updateMany({}, { $inc: { n: new Double(0.5) } });
      expect(many).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
      const up = await c.updateOne(
        { k: 3 },
        { $set: { v: 'x' }, $setOnInsert: { created: true } },
        { upsert: true },
      );
      expect(up.upsertedCount).toBe(1);
      expect(up.upsertedId).toBeInstanceOf(ObjectId);
      expect(await c.findOne({ k: 3 }, { projection: { _id: 0 } })).toEqual({
        k: 3,
        v: 'x',
        created: true,
      });
      const again = await c.updateOne(
        { k: 3 },
        { $set: { v: 'y' }, $setOnInsert: { created: false } },
        { upsert: true },
      );
      expect(again).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
      expect((await c.findOne({ k: 3 }))?.created).toBe(true);
      const replaced = await c.replaceOne({ k: 2 }, { k: 2, replaced: true });
      expect(replaced.modifiedCount).toBe(1);
      expect(await c.findOne({ k: 2 }, { projection: { _id: 0 } })).toEqual({
        k: 2,
        replaced: true,
      });
    });

    it('refuses to change _id and unknown update operators', async () => {
      const c = freshDb().collection('imm');
      await c.insertOne({ _id: 'a' as never, v: 1 });
      const err = await rejectionOf(c.updateOne({ _id: 'a' as never }, { $set: { _id: 'b' } }));
      expect(err.code).toBe(66);
      const unknown = await rejectionOf(c.updateOne({}, { $frobnicate: { v: 1 } } as never));
      expect(unknown.code).toBe(9);
    });

    it('reports duplicate keys from update as writeErrors', async () => {
      const d = freshDb();
      const c = d.collection('uu');
      await c.createIndex({ u: 1 }, { unique: true });
      await c.insertMany([{ u: 1 }, { u: 2 }]);
      const err = await rejectionOf(c.updateOne({ u: 2 }, { $set: { u: 1 } }));
      expect(err.code).toBe(11000);
      expect(err.message).toBe(
        `E11000 duplicate key error collection: ${d.databaseName}.uu index: u_1 dup key: { u: 1 }`,
      );
      expect(await c.countDocuments({ u: 2 })).toBe(1);
    });

    it('findAndModify: claims with sort, returns before/after, upserts and removes', async () => {
      const c = freshDb().collection('outbox');
      await c.insertMany([
        { job: 'a', state: 'pending', due: 3 },
        { job: 'b', state: 'pending', due: 1 },
        { job: 'c', state: 'sent', due: 0 },
      ]);
      const claimed = await c.findOneAndUpdate(
        { state: 'pending' },
        { $set: { state: 'claimed' } },
        { sort: { due: 1 }, returnDocument: 'after' },
      );
      expect(claimed).toMatchObject({ job: 'b', state: 'claimed' });
      const before = await c.findOneAndUpdate(
        { job: 'a' },
        { $inc: { tries: 1 } },
        { returnDocument: 'before' },
      );
      expect(before?.tries).toBeUndefined();
      const none = await c.findOneAndUpdate({ state: 'nothing' }, { $set: { x: 1 } });
      expect(none).toBeNull();
      const meta = await c.findOneAndUpdate(
        { job: 'z' },
        { $set: { state: 'new' } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: true },
      );
      expect(meta.value).toMatchObject({ job: 'z', state: 'new' });
      expect(meta.lastErrorObject).toMatchObject({ n: 1, updatedExisting: false });
      const removed = await c.findOneAndDelete({ state: 'sent' });
      expect(removed?.job).toBe('c');
      expect(await c.countDocuments()).toBe(3);
      const projected = await c.findOneAndUpdate(
        { job: 'a' },
        { $set: { y: 1 } },
        { projection: { _id: 0, job: 1 }, returnDocument: 'after' },
      );
      expect(projected).toEqual({ job: 'a' });
    });

    it('findAndModify reports a duplicate key as a top-level error', async () => {
      const d = freshDb();
      const c = d.collection('fam');
      await c.createIndex({ u: 1 }, { unique: true });
      await c.insertMany([{ u: 1 }, { u: 2 }]);
      const err = await rejectionOf(c.findOneAndUpdate({ u: 2 }, { $set: { u: 1 } }));
      expect(err.code).toBe(11000);
      expect(err.codeName).toBe('DuplicateKey');
      expect(err.message).toBe(
        `E11000 duplicate key error collection: ${d.databaseName}.fam index: u_1 dup key: { u: 1 }`,
      );
      expect(err.keyValue).toEqual({ u: 1 });
      expect((err as unknown as { writeErrors?: unknown }).writeErrors).toBeUndefined();
    });

    it('deletes one and many', async () => {
      const c = freshDb().collection('del');
      await c.insertMany([{ g: 1 }, { g: 1 }, { g: 2 }]);
      expect((await c.deleteOne({ g: 1 })).deletedCount).toBe(1);
      expect((await c.deleteMany({ g: { $gte: 1 } })).deletedCount).toBe(2);
      expect(await c.countDocuments()).toBe(0);
    });

    it('lists, drops collections and databases', async () => {
      const d = freshDb();
      await d.collection('one').insertOne({ x: 1 });
      await d.collection('two').insertOne({ x: 1 });
      const names = (await d.listCollections({}, { nameOnly: true }).toArray())
        .map((c) => c.name)
        .sort();
      expect(names).toEqual(['one', 'two']);
      const filtered = await d.listCollections({ name: 'two' }).toArray();
      expect(filtered.map((c) => c.name)).toEqual(['two']);
      expect(await d.collection('one').drop()).toBe(true);
      expect((await d.listCollections().toArray()).map((c) => c.name)).toEqual(['two']);
      const listed = await client.db('admin').admin().listDatabases();
      expect(listed.databases.map((x) => x.name)).toContain(d.databaseName);
      expect(await d.dropDatabase()).toBe(true);
      const after = await client.db('admin').admin().listDatabases({ nameOnly: true });
      expect(after.databases.map((x) => x.name)).not.toContain(d.databaseName);
    });

    it('fails unknown commands with CommandNotFound and unknown operators with BadValue', async () => {
      const cmd = await rejectionOf(db.command({ frobnicate: 1 }));
      expect(cmd.code).toBe(59);
      expect(cmd.codeName).toBe('CommandNotFound');
      const c = freshDb().collection('ops');
      await c.insertOne({ a: 1 });
      const op = await rejectionOf(c.find({ a: { $frob: 1 } }).toArray());
      expect(op.code).toBe(2);
      expect(op.message).toContain('unknown operator: $frob');
      const top = await rejectionOf(c.find({ $frob: [] }).toArray());
      expect(top.code).toBe(2);
      expect(top.message).toContain('unknown top level operator: $frob');
    });

    it('claims through the indexes of both $or branches: documents examined stay flat from 100 to 10 000', async () => {
      const examined: Record<number, number> = {};
      const claimMs: Record<number, number> = {};
      for (const size of [100, 10_000]) {
        const c = freshDb().collection('outbox');
        await c.createIndex({ state: 1, due: 1 });
        const now = Date.now();
        // Every document pending and due, as in a backlog; one expired claim ('sending') among
        // them.
        await c.insertMany(
          Array.from({ length: size }, (_, i) => ({
            i,
            state: 'pending',
            due: new Date(now - size + i),
          })),
        );
        await c.insertOne({
          i: -1,
          state: 'sending',
          due: new Date(now - 5 * size),
          lease: new Date(now - 1),
        });
        const claim = {
          $or: [
            { state: 'pending', due: { $lte: new Date(now) } },
            { state: 'sending', lease: { $lt: new Date(now) } },
          ],
        };
        const explained = await client.db(c.dbName).command({
          explain: {
            findAndModify: c.collectionName,
            query: claim,
            sort: { due: 1 },
            update: { $set: { state: 'sending' } },
          },
          verbosity: 'executionStats',
        });
        const stats = (
          explained as { executionStats: { totalDocsExamined: number; nReturned: number } }
        ).executionStats;
        expect(stats.nReturned).toBe(1);
        examined[size] = stats.totalDocsExamined;
        // The claim itself: the expired one first (earliest due), then the earliest pending ones.
        const started = performance.now();
        const first = await c.findOneAndUpdate(
          claim,
          { $set: { state: 'sending', lease: new Date(now + 60_000) } },
          { sort: { due: 1 } },
        );
        for (let k = 0; k < 49; k++)
          await c.findOneAndUpdate(
            claim,
            { $set: { state: 'sending', lease: new Date(now + 60_000) } },
            { sort: { due: 1 } },
          );
        claimMs[size] = (performance.now() - started) / 50;
        expect(first?.i).toBe(-1);
        expect(await c.countDocuments({ state: 'sending' })).toBe(50);
        expect(
          (await c.find({ state: 'sending' }).sort({ due: 1 }).toArray()).map((d) => d.i),
        ).toEqual([-1, ...Array.from({ length: 49 }, (_, k) => k)]);
      }
      // Behaviour, not speed: the claim reads a handful of documents whatever the backlog.
      expect(examined[100]).toBeLessThanOrEqual(3);
      expect(examined[10_000]).toBeLessThanOrEqual(3);
      process.stderr.write(
        `[conformance ${target.name}] claim among 100 / 10 000 pending: ${claimMs[100]?.toFixed(2)} / ${claimMs[10_000]?.toFixed(2)} ms each\n`,
      );
    });

    it('uses the unique index for lookups among many documents', async () => {
      const c = freshDb().collection('big');
      await c.createIndex({ email: 1 }, { unique: true });
      await c.insertMany(
        Array.from({ length: 20_000 }, (_, i) => ({ email: `u${i}@example.test` })),
      );
      const started = performance.now();
      for (let i = 0; i < 200; i++)
        expect(await c.findOne({ email: `u${i * 97}@example.test` })).not.toBeNull();
      // Not a speed assertion: printed so a regression to scanning is visible in the log.
      process.stderr.write(
        `[conformance ${target.name}] 200 indexed findOne among 20k docs: ${(performance.now() - started).toFixed(0)} ms\n`,
      );
    });
  });
}
