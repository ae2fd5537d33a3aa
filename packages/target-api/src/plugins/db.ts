/** Database plugin: one MongoClient, the `users` collection and its indexes; closed in onClose. */
import fp from 'fastify-plugin';
import { MongoClient, type Collection, type IndexDescription } from 'mongodb';
import type { UserDocument } from '../strategies/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    mongo: { client: MongoClient; users: Collection<UserDocument> };
  }
}

export interface DbPluginOptions {
  uri: string;
  dbName: string;
  /** Indexes the e-mail strategy needs besides the users' unique ones. */
  strategyIndexes: IndexDescription[];
}

export const dbPlugin = fp<DbPluginOptions>(
  async (app, { uri, dbName, strategyIndexes }) => {
    const client = new MongoClient(uri, { maxPoolSize: 50, serverSelectionTimeoutMS: 5000 });
    await client.connect();
    const users = client.db(dbName).collection<UserDocument>('users');
    await users.createIndexes([
      { key: { email: 1 }, name: 'email_1', unique: true },
      { key: { username: 1 }, name: 'username_1', unique: true },
      { key: { confirmToken: 1 }, name: 'confirmToken_1', unique: true },
      ...strategyIndexes,
    ]);
    app.decorate('mongo', { client, users });
    app.addHook('onClose', async () => {
      await client.close();
    });
  },
  { name: 'mailbench-db' },
);
