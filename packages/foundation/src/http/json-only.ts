import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidJson } from '../errors.ts';

// `fatal`: bytes that are not UTF-8 are an error, not U+FFFD. `ignoreBOM`:
// a byte-order mark is left for the JSON parser, which treats it as before.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The API speaks JSON only. Fastify also parses text/plain by default, which
 * would turn a mislabelled body into a confusing validation error; without the
 * parser the client gets 415 UNSUPPORTED_MEDIA_TYPE, which says what to fix.
 *
 * JSON must be UTF-8 (RFC 8259 §8.1). Fastify's own parser decodes invalid
 * bytes to U+FFFD, so a field would be stored as something other than what
 * was sent; here such a body is 400 INVALID_JSON. Parsing itself, with its
 * prototype-poisoning checks, stays Fastify's.
 */
async function jsonOnlyPlugin(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning ?? 'error',
    app.initialConfig.onConstructorPoisoning ?? 'error',
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new InvalidJson(), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}

export const jsonOnly = fp(jsonOnlyPlugin, { name: 'strangler-json-only', fastify: '5.x' });
