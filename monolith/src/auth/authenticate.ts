import type { FastifyReply, FastifyRequest } from 'fastify';
import { TokenInvalid, TokenMissing } from '../errors.ts';
import type { TokenService } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the user whose bearer token came with the request. */
    userId: number | null;
  }
}

/** An onRequest hook: 401 without a valid bearer token, before the body is even read. */
export function authenticate(tokens: TokenService) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim()) : null;
    if (!match?.[1]) throw new TokenMissing();
    const userId = tokens.verify(match[1]);
    if (userId === null) throw new TokenInvalid();
    request.userId = userId;
  };
}
