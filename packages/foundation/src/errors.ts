import createError, { type FastifyErrorConstructor } from '@fastify/error';

/**
 * Error codes are a public contract: clients switch on `error.code`, and an
 * extracted service must answer with the same codes as the monolith did. Every
 * code is defined once with `defineError` and documented in `docs/errors.md`
 * (a test fails when one is missing there).
 *
 * Codes are prefixed by bounded context (`USERS_`, `PRODUCTS_`, ...), not by
 * package, because the code must survive the move of a route from the
 * monolith to a service unchanged. Errors that belong to no context have no
 * prefix.
 */

export interface ErrorDefinition {
  code: string;
  statusCode: number;
  message: string;
}

const catalog = new Map<string, ErrorDefinition>();

export function defineError(code: string, statusCode: number, message: string): FastifyErrorConstructor {
  const existing = catalog.get(code);
  if (existing && (existing.statusCode !== statusCode || existing.message !== message)) {
    throw new Error(`error code ${code} is defined twice with different meanings`);
  }
  catalog.set(code, { code, statusCode, message });
  return createError(code, message, statusCode);
}

/** Whether `code` was declared with `defineError` for this status: a documented answer, safe to send as it is. */
export function isDeclaredError(code: string, statusCode: number): boolean {
  return catalog.get(code)?.statusCode === statusCode;
}

/** Every error code defined so far in this process, for docs and tests. */
export function errorCatalog(): readonly ErrorDefinition[] {
  return [...catalog.values()];
}

export const ValidationFailed = defineError('VALIDATION_FAILED', 400, '%s');
export const InvalidJson = defineError('INVALID_JSON', 400, 'The request body is not valid JSON');
export const PayloadTooLarge = defineError('PAYLOAD_TOO_LARGE', 413, 'The request body is larger than %s bytes');
export const UnsupportedMediaType = defineError(
  'UNSUPPORTED_MEDIA_TYPE',
  415,
  'Send the request body as application/json',
);
export const InvalidUrl = defineError('INVALID_URL', 400, 'The request path is not valid percent-encoded text');
export const PathSegmentTooLong = defineError(
  'PATH_SEGMENT_TOO_LONG',
  414,
  'A path segment is longer than %s characters',
);
export const MalformedRequest = defineError(
  'MALFORMED_REQUEST',
  400,
  'The request is not well-formed HTTP/1.1 (%s); nothing was done',
);
export const HeadersTooLarge = defineError(
  'HEADERS_TOO_LARGE',
  431,
  'The request line and headers are larger than %s bytes; nothing was done',
);
export const RequestTimeout = defineError(
  'REQUEST_TIMEOUT',
  408,
  'The request did not arrive in full in time; nothing was done',
);
export const RouteNotFound = defineError('NOT_FOUND', 404, 'Route %s %s not found');
export const Unauthorized = defineError('UNAUTHORIZED', 401, '%s');
export const Forbidden = defineError('FORBIDDEN', 403, '%s');
export const ServiceUnavailable = defineError(
  'SERVICE_UNAVAILABLE',
  503,
  'A dependency is unavailable (%s); retry shortly',
);
export const InternalError = defineError('INTERNAL', 500, 'Internal server error; the request id is %s');

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;
