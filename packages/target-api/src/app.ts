/**
 * buildApp(): the sign-up API. It never listens; server.ts does. Tests use app.inject().
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { resolveOptions, type AppInput, type AppOptions } from './contract/options.ts';
import { Metrics } from './metrics.ts';
import { dbPlugin } from './plugins/db.ts';
import { mailerPlugin } from './plugins/mailer.ts';
import { strategyPlugin } from './plugins/strategy.ts';
import { registerConfirmRoute, registerOpsRoutes, registerSignupRoute } from './routes.ts';
import { strategyFor, type ShutdownReport } from './strategies/index.ts';

export const BODY_LIMIT_BYTES = 16 * 1024;

export type BuildAppOptions = AppInput & {
  /** Told how the e-mails in flight ended when the app closes. */
  onShutdown?: (report: ShutdownReport) => void;
};

interface ValidationIssue {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** One entry per bad field, named as the client sent it. */
export function describeValidation(
  issues: ValidationIssue[],
): Array<{ field: string; message: string }> {
  const fields = new Map<string, string[]>();
  for (const issue of issues) {
    const missing = issue.params.missingProperty;
    const field =
      typeof missing === 'string'
        ? missing
        : issue.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(body)';
    const message = typeof missing === 'string' ? 'is required' : (issue.message ?? 'is invalid');
    fields.set(field, [...(fields.get(field) ?? []), message]);
  }
  return [...fields].map(([field, messages]) => ({ field, message: messages.join('; ') }));
}

/**
 * 400 with every bad field for validation errors; other 4xx as they are; anything else a logged
 * 500.
 */
function setErrorHandler(app: FastifyInstance): void {
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
    const status =
      err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) app.log.error(err);
    return reply.code(status).send({
      error: status === 500 ? 'Internal Server Error' : err.name,
      code: err.code ?? 'ERR_INTERNAL',
      message: status === 500 ? 'internal error' : err.message,
    });
  });
}

/**
 * Counts API requests in total and in flight for /metrics. A request leaves the gauge when its
 * response closes, answered or not: a client that gives up before the answer must not stay in
 * flight forever (fastify's onResponse never runs for it).
 */
function countRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/')) return;
    metrics.requestsTotal++;
    metrics.requestsInFlight++;
    reply.raw.once('close', () => metrics.requestsInFlight--);
  });
  app.addHook('onClose', async () => metrics.close());
}

/** A request must arrive whole within this long (headers and body): a dribbling client is cut. */
export const REQUEST_TIMEOUT_MS = 30_000;

export async function buildApp(input: BuildAppOptions): Promise<FastifyInstance> {
  const { onShutdown, ...rest } = input;
  const options: AppOptions = resolveOptions(rest);
  const metrics = new Metrics();
  let shutdownReport: ShutdownReport | null = null;

  const app = Fastify({
    logger: options.logLevel === 'silent' ? false : { level: options.logLevel },
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // No coercion: {"username": true} is a 400, not the string "true".
    ajv: { customOptions: { allErrors: true, coerceTypes: false } },
    // Idle keep-alive connections close with the server; busy ones get server.ts's grace.
    forceCloseConnections: 'idle',
  });
  // Only JSON is accepted: without this, fastify would parse text/plain and answer 400, not 415.
  app.removeContentTypeParser('text/plain');
  setErrorHandler(app);
  countRequests(app, metrics);

  await app.register(dbPlugin, {
    uri: options.mongoUri,
    dbName: options.dbName,
    strategyIndexes: strategyFor(options.variant).indexes,
  });
  await app.register(mailerPlugin, { smtp: options.smtp });
  await app.register(strategyPlugin, {
    options,
    onShutdown: (report) => {
      shutdownReport = report;
      onShutdown?.(report);
    },
  });

  registerSignupRoute(app, options);
  registerConfirmRoute(app);
  registerOpsRoutes(app, options, metrics, () => shutdownReport);
  return app;
}
