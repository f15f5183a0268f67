import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken } from '@strangler/foundation';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InternalTokenInvalid } from '../errors.ts';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * An onRequest hook: 401 unless the request carries `Authorization: Bearer
 * <INTERNAL_API_TOKEN>`, before the body is even read. The comparison is over
 * sha256 digests in constant time, so neither the time taken nor a length
 * mismatch tells a caller how much of a guess was right.
 */
export function requireInternalToken(expected: string) {
  const expectedDigest = digest(expected);
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearerToken(request.headers.authorization);
    const matches = timingSafeEqual(digest(token ?? ''), expectedDigest);
    if (token === null || !matches) throw new InternalTokenInvalid();
  };
}
