export { bearerToken } from './auth/bearer.ts';
export { decoyHash, hashPassword, verifyPassword } from './auth/passwords.ts';
export { secretMatches } from './auth/secret-compare.ts';
export {
  createTokenService,
  DEVELOPMENT_INTERNAL_API_TOKEN,
  DEVELOPMENT_JWT_SECRET,
  TOKEN_ISSUER,
  type TokenService,
} from './auth/tokens.ts';
export * from './config.ts';
export * from './db.ts';
export * from './errors.ts';
export { drainOnClose } from './http/drain-on-close.ts';
export { errorHandler, toErrorResponse } from './http/error-handler.ts';
export { jsonOnly } from './http/json-only.ts';
export { type ObservabilityOptions, observability, type ReadinessCheck } from './http/observability.ts';
export { errorResponses, idParams, idSchema, idTextSchema, MAX_ID, timestampSchema } from './http/schemas.ts';
export { httpServerOptions, requestIdOf, strictBodyValidatorCompiler } from './http/server-options.ts';
export { buildServiceApp, type ServiceAppOptions } from './http/service-app.ts';
export * from './logger.ts';
export * from './redact.ts';
export * from './redis.ts';
export * from './serve.ts';
export * from './shutdown.ts';
export * from './traffic-stats.ts';
export * from './write-fence.ts';
