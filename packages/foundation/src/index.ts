export * from './config.ts';
export * from './db.ts';
export * from './errors.ts';
export { errorHandler, toErrorResponse } from './http/error-handler.ts';
export { type ObservabilityOptions, observability, type ReadinessCheck } from './http/observability.ts';
export { httpServerOptions, requestIdOf, strictBodyValidatorCompiler } from './http/server-options.ts';
export * from './logger.ts';
export * from './redis.ts';
export * from './shutdown.ts';
