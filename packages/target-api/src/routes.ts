/** The API's routes: sign-up, confirmation, health and metrics. */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MongoServerError, ObjectId } from 'mongodb';
import type { AppOptions } from './contract/options.ts';
import type { MailFailuresResponse, MetricsResponse, ShutdownReport } from './contract/messages.ts';
import { buildConfirmationMail } from './email.ts';
import type { Metrics } from './metrics.ts';
import { hashPassword } from './password.ts';
import type { UserDocument } from './strategies/index.ts';

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

const confirmSchema = {
  querystring: {
    type: 'object',
    required: ['token'],
    properties: { token: { type: 'string', minLength: 1, maxLength: 200 } },
  },
} as const;

/** Where this server listens, on loopback: the default base of the confirmation link. */
function ownUrl(app: FastifyInstance): string {
  const address = app.server.address();
  return typeof address === 'object' && address
    ? `http://127.0.0.1:${address.port}`
    : 'http://127.0.0.1';
}

/**
 * POST /api/users: hash, build the e-mail, store the user (with the strategy's fields), hand the
 * e-mail to the strategy.
 */
export function registerSignupRoute(app: FastifyInstance, options: AppOptions): void {
  app.post<{ Body: SignupBody }>('/api/users', { schema: signupSchema }, async (request, reply) => {
    const { username, password } = request.body;
    const email = request.body.email.toLowerCase();
    const passwordHash = await hashPassword(password, options.hashCost);
    const _id = new ObjectId();
    const registration = {
      id: _id.toHexString(),
      username,
      email,
      confirmToken: randomBytes(24).toString('base64url'),
    };
    // Never from the request: a Host header is the client's to choose, and the link is the user's.
    const baseUrl = options.publicUrl ?? ownUrl(app);
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
        const field =
          Object.keys((err.keyPattern as Record<string, unknown> | undefined) ?? {})[0] ??
          'unknown';
        return reply.code(409).send({
          error: 'Conflict',
          code: 'ERR_DUPLICATE',
          field,
          message: `${field} is already registered`,
        });
      }
      throw err;
    }
    const emailStatus = await app.emailStrategy.afterSignup(registration, message);
    return reply.code(201).send({ id: registration.id, emailStatus });
  });
}

/** GET /api/users/confirm?token=…: marks the user confirmed. */
export function registerConfirmRoute(app: FastifyInstance): void {
  app.get<{ Querystring: { token: string } }>(
    '/api/users/confirm',
    { schema: confirmSchema },
    async (request, reply) => {
      const user = await app.mongo.users.findOneAndUpdate(
        { confirmToken: request.query.token },
        { $set: { confirmedAt: new Date() } },
        { returnDocument: 'after', projection: { _id: 1, confirmedAt: 1 } },
      );
      if (!user)
        return reply.code(404).send({
          error: 'Not Found',
          code: 'ERR_TOKEN_UNKNOWN',
          message: 'unknown confirmation token',
        });
      return { id: user._id.toHexString(), confirmed: true };
    },
  );
}

/** GET /healthz, GET /metrics and GET /mail/failures (the contract's shapes). */
export function registerOpsRoutes(
  app: FastifyInstance,
  options: AppOptions,
  metrics: Metrics,
  shutdown: () => ShutdownReport | null,
): void {
  app.get('/healthz', async () => ({ status: 'ok', variant: options.variant }));
  app.get<{ Querystring: { reset?: string } }>(
    '/metrics',
    async (request): Promise<MetricsResponse> => ({
      variant: options.variant,
      hashCost: options.hashCost,
      ...metrics.read(await app.emailStrategy.counters(), request.query.reset === 'window'),
      shutdown: shutdown(),
    }),
  );
  app.get(
    '/mail/failures',
    async (): Promise<MailFailuresResponse> => ({ failures: await app.emailStrategy.failures() }),
  );
}
