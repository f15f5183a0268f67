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

/** The knex pool of the service's own database as `app.db`, destroyed when the app closes. */
async function dbPlugin(app: FastifyInstance, opts: DbPluginOptions): Promise<void> {
  const owned = !opts.knex;
  const knex =
    opts.knex ?? createKnex({ url: opts.url, pool: { max: opts.poolMax }, applicationName: 'users-service' });
  app.decorate('db', knex);
  app.addHook('onClose', async () => {
    if (owned) await knex.destroy();
  });
}

export const dbPluginFp = fp(dbPlugin, { name: 'users-service-db', fastify: '5.x' });
