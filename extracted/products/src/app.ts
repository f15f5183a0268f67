import { buildServiceApp, createLogger } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { ProductsServiceConfig } from './config.ts';
import { inventoryRoutes } from './inventory/routes.ts';
import { InventoryService } from './inventory/service.ts';
import { InventoryStore } from './inventory/store.ts';
import { productRoutes } from './products/routes.ts';
import { ProductService } from './products/service.ts';
import { ProductStore } from './products/store.ts';

export interface ProductsServiceDeps {
  logger?: Logger;
  /** A knex to use instead of one made from DATABASE_URL (its owner destroys it). */
  knex?: Knex;
  /** Process-wide metrics: on in the server, off where many apps share a process. */
  collectDefaultMetrics?: boolean;
}

/** Builds the products service. Never listens: `server.ts` does, tests use `inject()` or port 0. */
export async function buildApp(
  config: ProductsServiceConfig,
  deps: ProductsServiceDeps = {},
): Promise<FastifyInstance> {
  const logger = deps.logger ?? createLogger({ name: 'products-service', level: config.LOG_LEVEL });
  const app = await buildServiceApp({
    name: 'products',
    logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    database: { url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, knex: deps.knex },
    collectDefaultMetrics: deps.collectDefaultMetrics ?? false,
  });

  // The composition root. The public routes are ShopCo's, open as they are
  // there; the inventory routes are for ShopCo itself, behind its token.
  await app.register(productRoutes(new ProductService(new ProductStore(app.db))));
  await app.register(inventoryRoutes(new InventoryService(new InventoryStore(app.db)), config.INTERNAL_API_TOKEN));
  return app;
}
