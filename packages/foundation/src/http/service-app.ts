import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Knex } from 'knex';
import { createKnex } from '../db.ts';
import type { Logger } from '../logger.ts';
import { drainOnClose } from './drain-on-close.ts';
import { errorHandler } from './error-handler.ts';
import { jsonOnly } from './json-only.ts';
import { observability } from './observability.ts';
import { httpServerOptions, strictBodyValidatorCompiler } from './server-options.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The knex pool of the service's own database. */
    db: Knex;
  }
}

interface DatabaseOptions {
  name: string;
  url: string;
  poolMax: number;
  /** An existing knex to use instead; its owner destroys it. */
  knex?: Knex | undefined;
}

async function databasePlugin(app: FastifyInstance, opts: DatabaseOptions): Promise<void> {
  const owned = !opts.knex;
  const knex = opts.knex ?? createKnex({ url: opts.url, pool: { max: opts.poolMax }, applicationName: opts.name });
  app.decorate('db', knex);
  app.addHook('onClose', async () => {
    if (owned) await knex.destroy();
  });
}

const database = fp(databasePlugin, { name: 'strangler-database', fastify: '5.x' });

export interface ServiceAppOptions {
  /** The service's name in logs, metrics and /health. */
  name: string;
  logger: Logger;
  bodyLimit: number;
  database: { url: string; poolMax: number; knex?: Knex | undefined };
  /** Process-wide metrics: on in the server, off where many apps share a process. */
  collectDefaultMetrics?: boolean;
}

/**
 * The Fastify app every database-backed service starts from (ShopCo, the
 * extracted services): JSON-only bodies validated strictly, the error
 * contract, a graceful close, /health, /ready (the database answers),
 * /metrics, and `app.db`. The service then registers its own routes.
 */
export async function buildServiceApp(opts: ServiceAppOptions): Promise<FastifyInstance> {
  const app = Fastify(httpServerOptions({ logger: opts.logger, bodyLimit: opts.bodyLimit }));
  app.setValidatorCompiler(strictBodyValidatorCompiler());
  await app.register(errorHandler);
  await app.register(jsonOnly);
  await app.register(drainOnClose);
  await app.register(database, { name: opts.name, ...opts.database });
  await app.register(observability, {
    service: opts.name,
    collectDefaults: opts.collectDefaultMetrics ?? false,
    readiness: [
      {
        name: 'database',
        check: async () => {
          await app.db.raw('select 1');
          return undefined;
        },
      },
    ],
  });
  return app;
}
