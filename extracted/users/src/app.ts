import { buildServiceApp, createLogger, createTokenService, decoyHash } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { UsersServiceConfig } from './config.ts';
import { userRoutes } from './users/routes.ts';
import { UserService } from './users/service.ts';
import { UserStore } from './users/store.ts';

export interface UsersServiceDeps {
  logger?: Logger;
  /** A knex to use instead of one made from DATABASE_URL (its owner destroys it). */
  knex?: Knex;
  /** Process-wide metrics: on in the server, off where many apps share a process. */
  collectDefaultMetrics?: boolean;
}

/** Builds the users service. Never listens: `server.ts` does, tests use `inject()` or port 0. */
export async function buildApp(config: UsersServiceConfig, deps: UsersServiceDeps = {}): Promise<FastifyInstance> {
  const logger = deps.logger ?? createLogger({ name: 'users-service', level: config.LOG_LEVEL });
  const app = await buildServiceApp({
    name: 'users',
    logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    database: { url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, knex: deps.knex },
    collectDefaultMetrics: deps.collectDefaultMetrics ?? false,
  });
  app.decorateRequest('userId', null);

  // The decoy hash is made before the first request, so that even the first
  // failed login takes as long for an unknown email as for a wrong password.
  app.addHook('onReady', async () => void (await decoyHash()));

  // The composition root. Tokens are ShopCo's (same issuer, same JWT_SECRET),
  // so a user logged in at the monolith stays logged in here and back.
  const tokens = createTokenService(config.JWT_SECRET, config.JWT_TTL_SECONDS);
  const users = new UserService(new UserStore(app.db), tokens);
  await app.register(userRoutes(users, tokens));
  return app;
}
