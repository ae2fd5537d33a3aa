/**
 * buildApp(): the sign-up API. It never listens; server.ts does. Tests use app.inject().
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { MongoServerError, ObjectId } from 'mongodb';
import { buildConfirmationMail } from './email.ts';
import { Metrics } from './metrics.ts';
import { resolveOptions, type AppInput, type AppOptions } from './options.ts';
import { hashPassword } from './password.ts';
import { dbPlugin } from './plugins/db.ts';
import { mailerPlugin } from './plugins/mailer.ts';
import { strategyPlugin } from './plugins/strategy.ts';
import type { ShutdownReport, UserDocument } from './strategies/index.ts';

export const BODY_LIMIT_BYTES = 16 * 1024;

export type BuildAppOptions = AppInput & {
  /** Told how the e-mails in flight ended when the app closes. */
  onShutdown?: (report: ShutdownReport) => void;
};

interface SignupBody {
  username: string;
  email: string;
  password: string;
}

const signupSchema = {
  body: {
    type: 'object',
    required: ['username', 'email', 'password'],
    properties: {
      username: { type: 'string', minLength: 3, maxLength: 32, pattern: '^[a-z0-9_.-]+$' },
      email: { type: 'string', format: 'email', maxLength: 254 },
      password: { type: 'string', minLength: 8, maxLength: 128 },
    },
  },
  response: {
    201: {
      type: 'object',
      properties: { id: { type: 'string' }, emailStatus: { type: 'string' } },
    },
  },
} as const;

interface ValidationIssue {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** One entry per bad field, named as the client sent it. */
export function describeValidation(issues: ValidationIssue[]): Array<{ field: string; message: string }> {
  const fields = new Map<string, string[]>();
  for (const issue of issues) {
    const missing = issue.params.missingProperty;
    const field = typeof missing === 'string' ? missing : issue.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(body)';
    const message = typeof missing === 'string' ? 'is required' : (issue.message ?? 'is invalid');
    fields.set(field, [...(fields.get(field) ?? []), message]);
  }
  return [...fields].map(([field, messages]) => ({ field, message: messages.join('; ') }));
}

export async function buildApp(input: BuildAppOptions): Promise<FastifyInstance> {
  const { onShutdown, ...rest } = input;
  const options: AppOptions = resolveOptions(rest);
  const metrics = new Metrics();
  let shutdownReport: ShutdownReport | null = null;

  const app = Fastify({
    logger: options.logLevel === 'silent' ? false : { level: options.logLevel },
    bodyLimit: BODY_LIMIT_BYTES,
    ajv: { customOptions: { allErrors: true } },
    forceCloseConnections: false,
  });

  // Only JSON is accepted: without this, fastify would parse text/plain and answer 400, not 415.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err.validation) {
      const fields = describeValidation(err.validation as ValidationIssue[]);
      return reply.code(400).send({
        error: 'Bad Request',
        code: 'ERR_VALIDATION',
        message: `invalid fields: ${fields.map((f) => f.field).join(', ')}`,
        fields,
      });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) app.log.error(err);
    return reply.code(status).send({
      error: status === 500 ? 'Internal Server Error' : err.name,
      code: err.code ?? 'ERR_INTERNAL',
      message: status === 500 ? 'internal error' : err.message,
    });
  });

  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/api/')) {
      metrics.requestsTotal++;
      metrics.requestsInFlight++;
    }
  });
  app.addHook('onResponse', async (request) => {
    if (request.url.startsWith('/api/')) metrics.requestsInFlight--;
  });

  await app.register(dbPlugin, { uri: options.mongoUri, dbName: options.dbName, outboxIndexes: options.variant === 'outbox' });
  await app.register(mailerPlugin, { smtp: options.smtp });
  await app.register(strategyPlugin, {
    options,
    onShutdown: (report) => {
      shutdownReport = report;
      onShutdown?.(report);
    },
  });
  app.addHook('onClose', async () => metrics.close());

  app.post<{ Body: SignupBody }>('/api/users', { schema: signupSchema }, async (request, reply) => {
    const { username, password } = request.body;
    const email = request.body.email.toLowerCase();
    const passwordHash = await hashPassword(password, options.hashCost);
    const _id = new ObjectId();
    const registration = { id: _id.toHexString(), username, email, confirmToken: randomBytes(24).toString('base64url') };
    const baseUrl = options.publicUrl ?? `${request.protocol}://${request.host}`;
    const message = buildConfirmationMail(registration, baseUrl, options.mailFrom);
    const doc: UserDocument & { _id: ObjectId } = {
      _id,
      username,
      email,
      passwordHash,
      createdAt: new Date(),
      confirmToken: registration.confirmToken,
      confirmedAt: null,
      ...app.emailStrategy.documentFields(message),
    };
    try {
      await app.mongo.users.insertOne(doc);
    } catch (err) {
      if (err instanceof MongoServerError && err.code === 11000) {
        const field = Object.keys((err.keyPattern as Record<string, unknown> | undefined) ?? {})[0] ?? 'unknown';
        return reply.code(409).send({ error: 'Conflict', code: 'ERR_DUPLICATE', field, message: `${field} is already registered` });
      }
      throw err;
    }
    const emailStatus = await app.emailStrategy.afterSignup(registration, message);
    return reply.code(201).send({ id: registration.id, emailStatus });
  });

  app.get<{ Querystring: { token: string } }>(
    '/api/users/confirm',
    { schema: { querystring: { type: 'object', required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 200 } } } } },
    async (request, reply) => {
      const user = await app.mongo.users.findOneAndUpdate(
        { confirmToken: request.query.token },
        { $set: { confirmedAt: new Date() } },
        { returnDocument: 'after', projection: { _id: 1, confirmedAt: 1 } },
      );
      if (!user) return reply.code(404).send({ error: 'Not Found', code: 'ERR_TOKEN_UNKNOWN', message: 'unknown confirmation token' });
      return { id: user._id.toHexString(), confirmed: true };
    },
  );

  app.get('/healthz', async () => ({ status: 'ok', variant: options.variant }));

  app.get('/metrics', async () => ({
    variant: options.variant,
    hashCost: options.hashCost,
    ...metrics.read(await app.emailStrategy.counters()),
    shutdown: shutdownReport,
  }));

  return app;
}
