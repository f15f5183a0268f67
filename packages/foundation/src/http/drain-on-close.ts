import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * While the server closes, every response still in flight carries
 * `Connection: close`, so a keep-alive client does not hold an idle socket
 * open and make the close wait out its timeout.
 */
async function drainOnClosePlugin(app: FastifyInstance): Promise<void> {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
}

export const drainOnClose = fp(drainOnClosePlugin, { name: 'strangler-drain-on-close', fastify: '5.x' });
