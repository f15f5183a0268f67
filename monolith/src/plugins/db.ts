import { createKnex, type Knex } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    db: Knex;
  }
}

export interface DbPluginOptions {
  url: string;
  poolMax: number;
  /** An existing knex to use instead; its owner destroys it. */
  knex?: Knex;
}

async function dbPlugin(app: FastifyInstance, opts: DbPluginOptions): Promise<void> {
  const owned = !opts.knex;
  const knex = opts.knex ?? createKnex({ url: opts.url, pool: { max: opts.poolMax }, applicationName: 'shopco' });
  app.decorate('db', knex);
  app.addHook('onClose', async () => {
    if (owned) await knex.destroy();
  });
}

export const dbPluginFp = fp(dbPlugin, { name: 'shopco-db', fastify: '5.x' });
