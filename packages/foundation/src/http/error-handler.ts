import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isUnavailableError } from '../db.ts';
import {
  type ErrorBody,
  InternalError,
  InvalidJson,
  isDeclaredError,
  PayloadTooLarge,
  RouteNotFound,
  ServiceUnavailable,
  UnsupportedMediaType,
  ValidationFailed,
} from '../errors.ts';
import { trackPendingAnswer } from './server-options.ts';

interface ErrorLike {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: unknown;
  validationContext?: string;
}

/** Maps any error thrown while serving a request to a status and the public error body. */
export function toErrorResponse(
  err: ErrorLike,
  requestId: string,
  bodyLimit: number,
): { status: number; body: ErrorBody } {
  const make = (e: FastifyError): { status: number; body: ErrorBody } => ({
    status: e.statusCode ?? 500,
    body: { error: { code: e.code, message: e.message } },
  });
  if (err.validation) return make(new ValidationFailed(err.message));
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return make(new InvalidJson());
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return make(new PayloadTooLarge(String(bodyLimit)));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return make(new UnsupportedMediaType());
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON') return make(new InvalidJson());
  if (isUnavailableError(err)) return make(new ServiceUnavailable('database'));
  const status = err.statusCode;
  if (
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    typeof err.code === 'string' &&
    !err.code.startsWith('FST_')
  ) {
    return { status, body: { error: { code: err.code, message: err.message } } };
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // A framework error we did not map by name: keep its status, give it a stable code.
    return { status, body: { error: { code: 'BAD_REQUEST', message: err.message } } };
  }
  // A declared 5xx (a 503 that says nothing was done, the router's 504 that says the outcome is
  // unknown) is a documented answer the client acts on; anything else is a bug, answered as INTERNAL.
  if (
    typeof status === 'number' &&
    status >= 500 &&
    typeof err.code === 'string' &&
    isDeclaredError(err.code, status)
  ) {
    return { status, body: { error: { code: err.code, message: err.message } } };
  }
  return make(new InternalError(requestId));
}

async function errorHandlerPlugin(app: FastifyInstance): Promise<void> {
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  // Every request is counted on its connection until answered (server-options.ts, clientError).
  app.addHook('onRequest', (request, reply, done) => {
    trackPendingAnswer(request.raw.socket, reply.raw);
    done();
  });
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toErrorResponse(err, request.id, bodyLimit);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: body.error.code, status }, 'request refused');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new RouteNotFound(request.method, request.url.split('?')[0] ?? request.url);
    return reply.status(404).send({ error: { code: err.code, message: err.message } } satisfies ErrorBody);
  });
}

/** Renders every error as `{ error: { code, message } }` with the right status. */
export const errorHandler = fp(errorHandlerPlugin, { name: 'strangler-error-handler', fastify: '5.x' });
