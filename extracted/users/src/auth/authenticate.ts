import { bearerToken, type TokenService } from '@strangler/foundation';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TokenInvalid, TokenMissing } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the user whose bearer token came with the request. */
    userId: number | null;
  }
}

/** An onRequest hook: 401 without a valid bearer token, before the body is even read (as in ShopCo). */
export function authenticate(tokens: TokenService) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearerToken(request.headers.authorization);
    if (token === null) throw new TokenMissing();
    const userId = tokens.verify(token);
    if (userId === null) throw new TokenInvalid();
    request.userId = userId;
  };
}
