/** Database plugin: one MongoClient, the `users` collection and its indexes; closed in onClose. */
import fp from 'fastify-plugin';
import { MongoClient, type Collection } from 'mongodb';
import type { UserDocument } from '../strategies/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    mongo: { client: MongoClient; users: Collection<UserDocument> };
  }
}

export interface DbPluginOptions {
  uri: string;
  dbName: string;
  outboxIndexes: boolean;
}

export const dbPlugin = fp<DbPluginOptions>(
  async (app, { uri, dbName, outboxIndexes }) => {
    const client = new MongoClient(uri, { maxPoolSize: 50, serverSelectionTimeoutMS: 5000 });
    await client.connect();
    const users = client.db(dbName).collection<UserDocument>('users');
    await users.createIndexes([
      { key: { email: 1 }, name: 'email_1', unique: true },
      { key: { username: 1 }, name: 'username_1', unique: true },
      { key: { confirmToken: 1 }, name: 'confirmToken_1', unique: true },
      ...(outboxIndexes ? [{ key: { 'mail.state': 1, 'mail.nextAttemptAt': 1 }, name: 'mail.state_1_mail.nextAttemptAt_1' }] : []),
    ]);
    app.decorate('mongo', { client, users });
    app.addHook('onClose', async () => {
      await client.close();
    });
  },
  { name: 'mailbench-db' },
);
