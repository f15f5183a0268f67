import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Call, client, createProduct, errorCode, type ShopCo, signUp, startShopCo } from './helpers.ts';

let shop: ShopCo;
let call: Call;

beforeAll(async () => {
  shop = await startShopCo();
  call = client(shop.url);
});
afterAll(() => shop.close());

interface Order {
  id: number;
  userId: number;
  status: string;
  totalCents: number;
  items: Array<{ productId: number; quantity: number; unitPriceCents: number }>;
  createdAt: string;
}

describe('POST /api/orders', () => {
  it('creates a pending order priced at current prices and takes the stock', async () => {
    const user = await signUp(call);
    const a = await createProduct(call, { priceCents: 250, stock: 5 });
    const b = await createProduct(call, { priceCents: 1999, stock: 2 });
    const res = await call<Order>('POST', '/api/orders', {
      token: user.token,
      body: {
        userId: user.id,
        items: [
          { productId: a.id, quantity: 3 },
          { productId: b.id, quantity: 2 },
        ],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ userId: user.id, status: 'pending', totalCents: 3 * 250 + 2 * 1999 });
    expect(res.body.items).toEqual([
      { productId: a.id, quantity: 3, unitPriceCents: 250 },
      { productId: b.id, quantity: 2, unitPriceCents: 1999 },
    ]);
    expect((await call('GET', `/api/products/${a.id}`)).body.stock).toBe(2);
    expect((await call('GET', `/api/products/${b.id}`)).body.stock).toBe(0);
    const read = await call<Order>('GET', `/api/orders/${res.body.id}`);
    expect(read.body).toEqual(res.body);
  });

  it('answers 409 when there is not enough stock, and takes none of it', async () => {
    const user = await signUp(call);
    const plenty = await createProduct(call, { stock: 10 });
    const scarce = await createProduct(call, { stock: 1 });
    const res = await call('POST', '/api/orders', {
      token: user.token,
      body: {
        userId: user.id,
        items: [
          { productId: plenty.id, quantity: 4 },
          { productId: scarce.id, quantity: 2 },
        ],
      },
    });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('ORDERS_INSUFFICIENT_STOCK');
    expect((await call('GET', `/api/products/${plenty.id}`)).body.stock).toBe(10);
    expect((await call('GET', `/api/products/${scarce.id}`)).body.stock).toBe(1);
  });

  it('answers 404 for an unknown product', async () => {
    const user = await signUp(call);
    const res = await call('POST', '/api/orders', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: 987654, quantity: 1 }] },
    });
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('PRODUCTS_NOT_FOUND');
  });

  it("answers 401 without a token and 403 for an order in another user's name", async () => {
    const alice = await signUp(call);
    const bob = await signUp(call);
    const product = await createProduct(call);
    const body = { userId: bob.id, items: [{ productId: product.id, quantity: 1 }] };
    expect((await call('POST', '/api/orders', { body })).status).toBe(401);
    const res = await call('POST', '/api/orders', { token: alice.token, body });
    expect(res.status).toBe(403);
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(10);
  });

  it.each([
    ['no items', []],
    ['a zero quantity', [{ productId: 1, quantity: 0 }]],
    ['a fractional quantity', [{ productId: 1, quantity: 1.5 }]],
    ['a product id as text', [{ productId: '1', quantity: 1 }]],
  ])('rejects %s with 400', async (_label, items) => {
    const user = await signUp(call);
    const res = await call('POST', '/api/orders', { token: user.token, body: { userId: user.id, items } });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('refuses an order whose total no payment could carry, and takes no stock', async () => {
    const user = await signUp(call);
    const product = await createProduct(call, { priceCents: 3_000_000_000, stock: 5 });
    const res = await call('POST', '/api/orders', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: product.id, quantity: 1 }] },
    });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('ORDERS_TOTAL_TOO_LARGE');
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(5);
  });

  it('rejects the same product twice in one order', async () => {
    const user = await signUp(call);
    const product = await createProduct(call);
    const res = await call('POST', '/api/orders', {
      token: user.token,
      body: {
        userId: user.id,
        items: [
          { productId: product.id, quantity: 1 },
          { productId: product.id, quantity: 1 },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('ORDERS_DUPLICATE_ITEM');
  });

  it('never oversells: 50 parallel orders for a product with stock 10 give exactly 10 orders', async () => {
    const product = await createProduct(call, { stock: 10 });
    const buyers = await Promise.all(Array.from({ length: 5 }, () => signUp(call)));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const buyer = buyers[i % buyers.length] as (typeof buyers)[number];
        return call('POST', '/api/orders', {
          token: buyer.token,
          body: { userId: buyer.id, items: [{ productId: product.id, quantity: 1 }] },
        });
      }),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(40);
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(0);
  });

  it('does not deadlock when concurrent orders take the same products in opposite order', async () => {
    const user = await signUp(call);
    const a = await createProduct(call, { stock: 100 });
    const b = await createProduct(call, { stock: 100 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call('POST', '/api/orders', {
          token: user.token,
          body: {
            userId: user.id,
            items:
              i % 2 === 0
                ? [
                    { productId: a.id, quantity: 1 },
                    { productId: b.id, quantity: 1 },
                  ]
                : [
                    { productId: b.id, quantity: 1 },
                    { productId: a.id, quantity: 1 },
                  ],
          },
        }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect((await call('GET', `/api/products/${a.id}`)).body.stock).toBe(80);
  });
});

describe('GET /api/users/:userId/orders', () => {
  it("lists a user's orders, newest first, and only theirs", async () => {
    const user = await signUp(call);
    const other = await signUp(call);
    const product = await createProduct(call, { stock: 50 });
    const ids: number[] = [];
    for (const quantity of [1, 2, 3]) {
      const res = await call<Order>('POST', '/api/orders', {
        token: user.token,
        body: { userId: user.id, items: [{ productId: product.id, quantity }] },
      });
      ids.push(res.body.id);
    }
    await call('POST', '/api/orders', {
      token: other.token,
      body: { userId: other.id, items: [{ productId: product.id, quantity: 1 }] },
    });
    const res = await call<{ items: Order[] }>('GET', `/api/users/${user.id}/orders`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((o) => o.id)).toEqual([...ids].reverse());
    expect(res.body.items[0]?.items).toEqual([{ productId: product.id, quantity: 3, unitPriceCents: 1000 }]);
  });

  it('answers an empty list for a user without orders and 404 for an unknown user', async () => {
    const user = await signUp(call);
    expect((await call('GET', `/api/users/${user.id}/orders`)).body).toEqual({ items: [] });
    const res = await call('GET', '/api/users/777777/orders');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('USERS_NOT_FOUND');
  });
});

describe('PATCH /api/orders/:id/status', () => {
  async function newOrder(stock = 10): Promise<{ order: Order; productId: number }> {
    const user = await signUp(call);
    const product = await createProduct(call, { stock });
    const res = await call<Order>('POST', '/api/orders', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: product.id, quantity: 2 }] },
    });
    return { order: res.body, productId: product.id };
  }

  it('follows pending → paid → shipped', async () => {
    const { order } = await newOrder();
    for (const status of ['paid', 'shipped']) {
      const res = await call<Order>('PATCH', `/api/orders/${order.id}/status`, { body: { status } });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(status);
    }
  });

  it('puts the stock back when a pending order is cancelled', async () => {
    const { order, productId } = await newOrder(5);
    expect((await call('GET', `/api/products/${productId}`)).body.stock).toBe(3);
    const res = await call<Order>('PATCH', `/api/orders/${order.id}/status`, { body: { status: 'cancelled' } });
    expect(res.body.status).toBe('cancelled');
    expect((await call('GET', `/api/products/${productId}`)).body.stock).toBe(5);
  });

  it.each([
    [['paid', 'shipped'], 'pending'],
    [['cancelled'], 'paid'],
    [['paid', 'shipped'], 'refunded'],
    [['paid'], 'paid'],
    [[], 'shipped'],
    [[], 'refunded'],
  ])('refuses a transition that is not allowed (after %j, to %s) with 409', async (path, to) => {
    const { order } = await newOrder();
    for (const status of path) await call('PATCH', `/api/orders/${order.id}/status`, { body: { status } });
    const res = await call('PATCH', `/api/orders/${order.id}/status`, { body: { status: to } });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('ORDERS_INVALID_TRANSITION');
  });

  it('does not put stock back twice when a cancel is repeated', async () => {
    const { order, productId } = await newOrder(5);
    await call('PATCH', `/api/orders/${order.id}/status`, { body: { status: 'cancelled' } });
    const again = await call('PATCH', `/api/orders/${order.id}/status`, { body: { status: 'cancelled' } });
    expect(again.status).toBe(409);
    expect((await call('GET', `/api/products/${productId}`)).body.stock).toBe(5);
  });

  it('rejects an unknown status with 400 and an unknown order with 404', async () => {
    const { order } = await newOrder();
    expect((await call('PATCH', `/api/orders/${order.id}/status`, { body: { status: 'lost' } })).status).toBe(400);
    const res = await call('PATCH', '/api/orders/999999/status', { body: { status: 'paid' } });
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ORDERS_NOT_FOUND');
  });
});
