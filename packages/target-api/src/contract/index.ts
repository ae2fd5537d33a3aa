/**
 * `@mailbench/target-api/contract`: what the runner may know about the API without loading it.
 * Types and pure data only (no fastify, no driver, no mailer): the variant registry, the
 * options and their flags, the IPC messages and the /metrics snapshot.
 */
export { VARIANT_FACTS, VARIANTS, isVariant, variantFacts } from './variants.ts';
export type { Variant, VariantFacts } from './variants.ts';
export { DEFAULT_OPTIONS, TRANSPORTS, OptionError, resolveOptions } from './options.ts';
export type {
  AppInput,
  AppOptions,
  OutboxOptions,
  SmtpOptions,
  TransportMode,
  WorkerPoolOptions,
} from './options.ts';
export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  SERVER_HELP,
  parseServerArgs,
  toServerCommand,
} from './flags.ts';
export type { ServerConfig, ServerLaunch } from './flags.ts';
export { ContractError, readMailFailures, readMetrics, readServerMessage } from './messages.ts';
export type {
  MailCounters,
  MailFailure,
  MailFailuresResponse,
  MetricsResponse,
  MetricsSnapshot,
  ReadyMessage,
  ServerMessage,
  ShutdownMessage,
  ShutdownReport,
} from './messages.ts';
