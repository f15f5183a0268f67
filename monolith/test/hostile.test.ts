import {
  type Call,
  client,
  deeplyNested,
  describeHostileHttp,
  describeHostileProductText,
  describeHostileUserText,
  errorCode,
  HOSTILE_TEXT,
  signUp,
} from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, type ShopCo, startShopCo } from './helpers.ts';

/**
 * ShopCo under hostile input (the shared list of packages/foundation/src/testing/hostile.ts),
 * over real sockets: every attack gets a clear 4xx or is handled, and ShopCo keeps answering.
 */

let shop: ShopCo;

beforeAll(async () => {
  shop = await startShopCo();
});
afterAll(() => shop?.close());

const url = () => shop.url;

describeHostileHttp('ShopCo', {
  url,
  jsonRoute: '/api/products',
  alive: { path: '/api/products/search', status: 200 },
  bodyLimit: 1024 * 1024,
  idRoutes: ['/api/users/:id', '/api/products/:id', '/api/orders/:id', '/api/payments/:id', '/api/users/:id/orders'],
});
describeHostileUserText('ShopCo', url);
describeHostileProductText('ShopCo', url);

describe('ShopCo: SQL-looking and unicode text in the orders, payments and checkout fields', () => {
  let call: Call;
  let user: { id: number; token: string };
  let productId: number;
  let orderId: number;

  beforeAll(async () => {
    call = client(shop.url);
    user = await signUp(call);
    productId = (await createProduct(call, { stock: 100 })).id;
    const order = await call<{ id: number }>('POST', '/api/orders', {
      token: user.token,
      body: { userId: user.id, items: [{ productId, quantity: 1 }] },
    });
    orderId = order.body.id;
  });

  const refused = (res: Parameters<typeof errorCode>[0]) =>
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });

  it.each(HOSTILE_TEXT.map((t) => [t.name, t] as const))(
    'refuses %s as a card, a status, an item and a user id, and changes nothing',
    async (_name, { text }) => {
      refused(await call('POST', '/api/payments', { body: { orderId, amountCents: 1000, card: text } }));
      refused(await call('PATCH', `/api/orders/${orderId}/status`, { body: { status: text } }));
      refused(
        await call('POST', '/api/orders', {
          token: user.token,
          body: { userId: user.id, items: [{ productId: text, quantity: 1 }] },
        }),
      );
      refused(
        await call('POST', '/api/checkout', {
          token: user.token,
          body: { userId: text, items: [{ productId, quantity: 1 }], card: '4242424242424242' },
        }),
      );
      const order = await call<{ status: string }>('GET', `/api/orders/${orderId}`);
      expect(order.body.status).toBe('pending');
      expect((await call<{ stock: number }>('GET', `/api/products/${productId}`)).body.stock).toBe(99);
    },
  );

  it.each([
    ['100,000 items', JSON.stringify(Array.from({ length: 100_000 }, (_, i) => ({ productId: i + 1, quantity: 1 })))],
    ['items nested 100,000 arrays deep', deeplyNested()],
  ])('refuses an order of %s with a 4xx, and takes no stock', async (_name, items) => {
    const res = await call('POST', '/api/orders', {
      token: user.token,
      rawBody: `{"userId":${user.id},"items":${items}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect((await call<{ stock: number }>('GET', `/api/products/${productId}`)).body.stock).toBe(99);
  });
});
