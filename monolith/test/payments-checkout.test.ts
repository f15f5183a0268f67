import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVED_CARD, DECLINED_CARD } from '../src/payments/gateway.ts';
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
  status: string;
  totalCents: number;
}
interface Payment {
  id: number;
  orderId: number;
  amountCents: number;
  status: string;
}

async function pendingOrder(): Promise<Order> {
  const user = await signUp(call);
  const product = await createProduct(call, { priceCents: 1500, stock: 10 });
  const res = await call<Order>('POST', '/api/orders', {
    token: user.token,
    body: { userId: user.id, items: [{ productId: product.id, quantity: 2 }] },
  });
  return res.body;
}

describe('POST /api/payments', () => {
  it('charges an approved card, records the payment and marks the order paid', async () => {
    const order = await pendingOrder();
    const res = await call<Payment>('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 3000, card: APPROVED_CARD },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: res.body.id, orderId: order.id, amountCents: 3000, status: 'succeeded' });
    expect((await call<Order>('GET', `/api/orders/${order.id}`)).body.status).toBe('paid');
    expect((await call('GET', `/api/payments/${res.body.id}`)).body).toEqual(res.body);
  });

  it('answers 402 for a declined card and leaves the order pending', async () => {
    const order = await pendingOrder();
    const res = await call('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 3000, card: DECLINED_CARD },
    });
    expect(res.status).toBe(402);
    expect(errorCode(res)).toBe('PAYMENTS_DECLINED');
    expect((await call<Order>('GET', `/api/orders/${order.id}`)).body.status).toBe('pending');
  });

  it('refuses a second payment for a paid order with 409', async () => {
    const order = await pendingOrder();
    await call('POST', '/api/payments', { body: { orderId: order.id, amountCents: 3000, card: APPROVED_CARD } });
    const res = await call('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 3000, card: APPROVED_CARD },
    });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('PAYMENTS_ORDER_NOT_PAYABLE');
  });

  it('lets only one of many concurrent payments for one order succeed', async () => {
    const order = await pendingOrder();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        call('POST', '/api/payments', { body: { orderId: order.id, amountCents: 3000, card: APPROVED_CARD } }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(9);
  });

  it('pays an order of free products', async () => {
    const user = await signUp(call);
    const product = await createProduct(call, { priceCents: 0 });
    const order = await call<Order>('POST', '/api/orders', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: product.id, quantity: 1 }] },
    });
    const res = await call<Payment>('POST', '/api/payments', {
      body: { orderId: order.body.id, amountCents: 0, card: APPROVED_CARD },
    });
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('succeeded');
  });

  it('refuses an amount that is not the order total with 409', async () => {
    const order = await pendingOrder();
    const res = await call('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 1, card: APPROVED_CARD },
    });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('PAYMENTS_AMOUNT_MISMATCH');
  });

  it('rejects a card number that fails the Luhn check with 400, and a malformed one too', async () => {
    const order = await pendingOrder();
    const luhn = await call('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 3000, card: '4242424242424241' },
    });
    expect(luhn.status).toBe(400);
    expect(errorCode(luhn)).toBe('PAYMENTS_INVALID_CARD');
    const malformed = await call('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 3000, card: '4242-4242' },
    });
    expect(malformed.status).toBe(400);
    expect(errorCode(malformed)).toBe('VALIDATION_FAILED');
  });

  it('answers 404 for an unknown order and an unknown payment', async () => {
    const res = await call('POST', '/api/payments', { body: { orderId: 999999, amountCents: 1, card: APPROVED_CARD } });
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ORDERS_NOT_FOUND');
    const missing = await call('GET', '/api/payments/999999');
    expect(missing.status).toBe(404);
    expect(errorCode(missing)).toBe('PAYMENTS_NOT_FOUND');
  });
});

describe('POST /api/payments/:id/refund', () => {
  it('refunds a paid payment once and marks the order refunded', async () => {
    const order = await pendingOrder();
    const paid = await call<Payment>('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 3000, card: APPROVED_CARD },
    });
    const refund = await call<Payment>('POST', `/api/payments/${paid.body.id}/refund`);
    expect(refund.status).toBe(200);
    expect(refund.body.status).toBe('refunded');
    expect((await call<Order>('GET', `/api/orders/${order.id}`)).body.status).toBe('refunded');
    const again = await call('POST', `/api/payments/${paid.body.id}/refund`);
    expect(again.status).toBe(409);
    expect(errorCode(again)).toBe('PAYMENTS_ALREADY_REFUNDED');
  });

  it('refuses to refund a shipped order', async () => {
    const order = await pendingOrder();
    const paid = await call<Payment>('POST', '/api/payments', {
      body: { orderId: order.id, amountCents: 3000, card: APPROVED_CARD },
    });
    await call('PATCH', `/api/orders/${order.id}/status`, { body: { status: 'shipped' } });
    const res = await call('POST', `/api/payments/${paid.body.id}/refund`);
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('PAYMENTS_NOT_REFUNDABLE');
    expect((await call<Payment>('GET', `/api/payments/${paid.body.id}`)).body.status).toBe('succeeded');
  });
});

describe('POST /api/checkout', () => {
  it('reserves stock, creates the order and pays in one call', async () => {
    const user = await signUp(call);
    const product = await createProduct(call, { priceCents: 700, stock: 4 });
    const res = await call<{ order: Order; payment: Payment }>('POST', '/api/checkout', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: product.id, quantity: 3 }], card: APPROVED_CARD },
    });
    expect(res.status).toBe(201);
    expect(res.body.order).toMatchObject({ status: 'paid', totalCents: 2100 });
    expect(res.body.payment).toMatchObject({ orderId: res.body.order.id, amountCents: 2100, status: 'succeeded' });
    expect((await call<Order>('GET', `/api/orders/${res.body.order.id}`)).body.status).toBe('paid');
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(1);
  });

  it('compensates a declined payment: 402, the order cancelled and the stock released', async () => {
    const user = await signUp(call);
    const product = await createProduct(call, { priceCents: 700, stock: 4 });
    const res = await call('POST', '/api/checkout', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: product.id, quantity: 3 }], card: DECLINED_CARD },
    });
    expect(res.status).toBe(402);
    expect(errorCode(res)).toBe('PAYMENTS_DECLINED');
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(4);
    const orders = await call<{ items: Order[] }>('GET', `/api/users/${user.id}/orders`);
    expect(orders.body.items.map((o) => o.status)).toEqual(['cancelled']);
  });

  it('reserves nothing for a card that fails the Luhn check', async () => {
    const user = await signUp(call);
    const product = await createProduct(call, { stock: 4 });
    const res = await call('POST', '/api/checkout', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: product.id, quantity: 1 }], card: '1234567890123' },
    });
    expect(res.status).toBe(400);
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(4);
    expect((await call<{ items: Order[] }>('GET', `/api/users/${user.id}/orders`)).body.items).toEqual([]);
  });

  it('answers 409 for insufficient stock and charges nothing', async () => {
    const user = await signUp(call);
    const product = await createProduct(call, { stock: 1 });
    const res = await call('POST', '/api/checkout', {
      token: user.token,
      body: { userId: user.id, items: [{ productId: product.id, quantity: 2 }], card: APPROVED_CARD },
    });
    expect(res.status).toBe(409);
    expect((await call<{ items: Order[] }>('GET', `/api/users/${user.id}/orders`)).body.items).toEqual([]);
  });

  it('answers 401 without a token and 403 for another user', async () => {
    const alice = await signUp(call);
    const bob = await signUp(call);
    const product = await createProduct(call);
    const body = { userId: bob.id, items: [{ productId: product.id, quantity: 1 }], card: APPROVED_CARD };
    expect((await call('POST', '/api/checkout', { body })).status).toBe(401);
    expect((await call('POST', '/api/checkout', { token: alice.token, body })).status).toBe(403);
  });

  it('sells a low-stock product exactly once per unit under concurrent checkouts, declines included', async () => {
    const product = await createProduct(call, { priceCents: 100, stock: 5 });
    const buyers = await Promise.all(Array.from({ length: 4 }, () => signUp(call)));
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => {
        const buyer = buyers[i % buyers.length] as (typeof buyers)[number];
        return call('POST', '/api/checkout', {
          token: buyer.token,
          body: {
            userId: buyer.id,
            items: [{ productId: product.id, quantity: 1 }],
            card: i % 3 === 0 ? DECLINED_CARD : APPROVED_CARD,
          },
        });
      }),
    );
    const sold = results.filter((r) => r.status === 201).length;
    const stock = (await call<{ stock: number }>('GET', `/api/products/${product.id}`)).body.stock;
    expect(stock).toBeGreaterThanOrEqual(0);
    expect(sold + stock).toBe(5);
    expect(results.every((r) => [201, 402, 409].includes(r.status))).toBe(true);
  });
});
