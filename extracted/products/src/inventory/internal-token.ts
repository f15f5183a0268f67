import { bearerToken, secretMatches } from '@strangler/foundation';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InternalTokenInvalid } from '../errors.ts';

/**
 * An onRequest hook: 401 unless the request carries `Authorization: Bearer
 * <INTERNAL_API_TOKEN>`, before the body is even read. The comparison is
 * foundation's `secretMatches` (sha256 digests compared in constant time), so
 * neither the time taken nor a length mismatch tells a caller how much of a
 * guess was right.
 */
export function requireInternalToken(expected: string) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!secretMatches(bearerToken(request.headers.authorization), expected)) throw new InternalTokenInvalid();
  };
}
