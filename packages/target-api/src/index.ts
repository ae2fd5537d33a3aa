export { buildApp, describeValidation, BODY_LIMIT_BYTES } from './app.ts';
export type { BuildAppOptions } from './app.ts';
export * from './contract/index.ts';
export { hashPassword, verifyPassword } from './password.ts';
export { buildConfirmationMail, confirmationLink } from './email.ts';
export { backoffMs } from './strategies/index.ts';
export type { EmailStatus } from './strategies/index.ts';
