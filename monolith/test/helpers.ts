import type { Call } from '@strangler/foundation/testing';
import { type StartedApp, startOnFreshDatabase } from '@strangler/foundation/testing';
import { buildApp, type MonolithDeps } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

export type ShopCo = StartedApp;

/** ShopCo on a fresh database cloned from the migrated template, listening on a free port. */
export function startShopCo(deps: MonolithDeps = {}): Promise<ShopCo> {
  return startOnFreshDatabase('monolith', (url) => buildApp(testConfig({ DATABASE_URL: url }), deps));
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
