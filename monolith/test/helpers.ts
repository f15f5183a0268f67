import type { Call } from '@strangler/foundation/testing';
import { freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp, type MonolithDeps } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

export interface ShopCo {
  app: FastifyInstance;
  db: TestDatabase;
  /** Base URL of the listening server, for real HTTP. */
  url: string;
  close(): Promise<void>;
}

/** ShopCo on a fresh database cloned from the migrated template, listening on a free port. */
export async function startShopCo(deps: MonolithDeps = {}): Promise<ShopCo> {
  const db = await freshDatabase('monolith');
  let app: FastifyInstance;
  let url: string;
  try {
    app = await buildApp(testConfig({ DATABASE_URL: db.url }), deps);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await db.drop();
    throw err;
  }
  return {
    app,
    db,
    url,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

export {
  type Call,
  type CallOptions,
  client,
  errorCode,
  type JsonResponse,
  signUp,
} from '@strangler/foundation/testing';

let counter = 0;

export async function createProduct(
  call: Call,
  overrides: Partial<{ sku: string; name: string; description: string; priceCents: number; stock: number }> = {},
): Promise<{ id: number; priceCents: number; stock: number }> {
  counter += 1;
  const res = await call<{ id: number; priceCents: number; stock: number }>('POST', '/api/products', {
    body: {
      sku: `SKU-${counter}-${process.pid}`,
      name: `Product ${counter}`,
      priceCents: 1000,
      stock: 10,
      ...overrides,
    },
  });
  if (res.status !== 201) throw new Error(`create product failed: ${JSON.stringify(res.body)}`);
  return res.body;
}
