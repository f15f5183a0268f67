import { buildServiceApp, createLogger, createTokenService, decoyHash } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { checkoutRoutes } from './checkout/routes.ts';
import { CheckoutService } from './checkout/service.ts';
import type { MonolithConfig } from './config.ts';
import { orderRoutes } from './orders/routes.ts';
import { OrderService } from './orders/service.ts';
import { OrderStore } from './orders/store.ts';
import { type PaymentGateway, simulatedGateway } from './payments/gateway.ts';
import { paymentRoutes } from './payments/routes.ts';
import { PaymentService } from './payments/service.ts';
import { PaymentStore } from './payments/store.ts';
import { productRoutes } from './products/routes.ts';
import { ProductService } from './products/service.ts';
import { ProductStore } from './products/store.ts';
import { userRoutes } from './users/routes.ts';
import { UserService } from './users/service.ts';
import { UserStore } from './users/store.ts';

export interface MonolithDeps {
  logger?: Logger;
  /** A knex to use instead of one made from DATABASE_URL (its owner destroys it). */
  knex?: Knex;
  gateway?: PaymentGateway;
  /** Process-wide metrics: on in the server, off where many apps share a process. */
  collectDefaultMetrics?: boolean;
}

/** Builds ShopCo. Never listens: `server.ts` does, tests use `inject()` or port 0. */
export async function buildApp(config: MonolithConfig, deps: MonolithDeps = {}): Promise<FastifyInstance> {
  const logger = deps.logger ?? createLogger({ name: 'shopco', level: config.LOG_LEVEL });
  const app = await buildServiceApp({
    name: 'shopco',
    logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    database: { url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, knex: deps.knex },
    collectDefaultMetrics: deps.collectDefaultMetrics ?? false,
  });
  app.decorateRequest('userId', null);

  // The decoy hash is made before the first request, so that even the first
  // failed login takes as long for an unknown email as for a wrong password.
  app.addHook('onReady', async () => void (await decoyHash()));

  // The composition root: every store, service and route of ShopCo is wired here.
  const tokens = createTokenService(config.JWT_SECRET, config.JWT_TTL_SECONDS);
  const users = new UserService(new UserStore(app.db), tokens);
  const products = new ProductService(new ProductStore(app.db));
  const orders = new OrderService(new OrderStore(app.db));
  const payments = new PaymentService(new PaymentStore(app.db), deps.gateway ?? simulatedGateway);
  const checkout = new CheckoutService(orders, payments);

  await app.register(userRoutes(users, tokens));
  await app.register(productRoutes(products));
  await app.register(orderRoutes(orders, tokens));
  await app.register(paymentRoutes(payments));
  await app.register(checkoutRoutes(checkout, tokens));
  return app;
}
