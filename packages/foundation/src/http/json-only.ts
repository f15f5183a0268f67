import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The API speaks JSON only. Fastify also parses text/plain by default, which
 * would turn a mislabelled body into a confusing validation error; without the
 * parser the client gets 415 UNSUPPORTED_MEDIA_TYPE, which says what to fix.
 */
async function jsonOnlyPlugin(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser('text/plain');
}

export const jsonOnly = fp(jsonOnlyPlugin, { name: 'strangler-json-only', fastify: '5.x' });
