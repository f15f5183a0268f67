import { CONTEXTS, type FlagSource, writeOwnerIn } from '@strangler/flags';
import {
  buildServiceApp,
  createLogger,
  createRedis,
  createTokenService,
  decoyHash,
  FenceMember,
} from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { checkoutRoutes } from './checkout/routes.ts';
import { CheckoutService } from './checkout/service.ts';
import type { MonolithConfig } from './config.ts';
import { HttpInventoryClient } from './inventory/client.ts';
import { FencedStockOwnership, LOCAL_STOCK } from './inventory/ownership.ts';
import { orderRoutes } from './orders/routes.ts';
import { OrderService, type StockDeps } from './orders/service.ts';
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
  /** The flags; required with PRODUCTS_SERVICE_URL (stock follows the products write owner). */
  flags?: FlagSource;
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
  const orders = new OrderService(new OrderStore(app.db), await stockDeps(app, config, deps));
  const payments = new PaymentService(new PaymentStore(app.db), deps.gateway ?? simulatedGateway);
  const checkout = new CheckoutService(orders, payments);

  await app.register(userRoutes(users, tokens));
  await app.register(productRoutes(products));
  await app.register(orderRoutes(orders, tokens));
  await app.register(paymentRoutes(payments));
  await app.register(checkoutRoutes(checkout, tokens));
  return app;
}

/**
 * Where orders take stock. ShopCo alone: its own products table. With a
 * products service configured: whoever the products write flag names, decided
 * per stock change behind the write fence (inventory/ownership.ts).
 */
async function stockDeps(app: FastifyInstance, config: MonolithConfig, deps: MonolithDeps): Promise<StockDeps> {
  if (config.PRODUCTS_SERVICE_URL === undefined || config.REDIS_URL === undefined) return { ownership: LOCAL_STOCK };
  const flags = deps.flags;
  if (!flags) throw new Error('buildApp: PRODUCTS_SERVICE_URL is set, so deps.flags is required');
  const redis = createRedis({ url: config.REDIS_URL, role: 'client', connectionName: 'shopco' });
  redis.on('error', (err) => app.log.warn({ err: err.message }, 'redis unavailable; stock changes held after 20 s'));
  const fence = new FenceMember(redis, {
    kind: 'shopco',
    contexts: CONTEXTS,
    prefix: config.FENCE_KEY_PREFIX,
    holdMaxMs: config.STOCK_HOLD_MAX_MS,
    owners: () => {
      const snapshot = flags.snapshot();
      return Object.fromEntries(CONTEXTS.map((c) => [c, writeOwnerIn(snapshot, c)]));
    },
    onError: (err) => app.log.warn({ err: err.message }, 'write fence: redis unavailable'),
  });
  await fence.start();
  app.addHook('onClose', async () => {
    await fence.close();
    redis.disconnect();
  });
  return {
    ownership: new FencedStockOwnership(fence, () => flags.snapshot()),
    inventory: new HttpInventoryClient({
      baseUrl: config.PRODUCTS_SERVICE_URL,
      token: config.INVENTORY_API_TOKEN,
      timeoutMs: config.INVENTORY_TIMEOUT_MS,
    }),
    log: app.log,
  };
}
