import { createKnex, type Knex } from '@strangler/foundation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Call,
  type CallOptions,
  client,
  createProduct,
  errorCode,
  INTERNAL_TOKEN,
  type JsonResponse,
  type Started,
  startProductsService,
} from './helpers.ts';

// The internal inventory API against a real Postgres: idempotency by key,
// all-or-nothing reserves, compensation that is safe to send before the
// reserve it undoes arrives, and no overselling under concurrency.

let service: Started;
let call: Call;
let db: Knex;

beforeAll(async () => {
  // A pool as large as the concurrency tests' fan-out, so they contend on row locks, not on connections.
  service = await startProductsService({ DATABASE_POOL_MAX: '20' });
  call = client(service.url);
  db = createKnex({ url: service.db.url });
});
afterAll(async () => {
  await db?.destroy();
  await service?.close();
});

interface Line {
  productId: number;
  quantity: number;
  unitPriceCents?: number;
}
// A type, not an interface: it must fit the client's Record<string, unknown> bodies.
type ReservationBody = {
  key: string;
  status: string;
  items: Line[];
};

let keys = 0;
const newKey = (label = 'order') => `${label}:${++keys}-${process.pid}`;

function internal<T = ReservationBody>(method: string, path: string, options: CallOptions = {}) {
  return call<T>(method, `/internal/inventory${path}`, { token: INTERNAL_TOKEN, ...options });
}
const reserve = (key: string, items: Line[], options: CallOptions = {}) =>
  internal('POST', '/reservations', { body: { key, items }, ...options });
const release = (key: string, options: CallOptions = {}) =>
  internal('POST', `/reservations/${encodeURIComponent(key)}/release`, options);
const giveBack = (key: string, items: Line[]) => internal('POST', '/returns', { body: { key, items } });
const reservation = (key: string) => internal('GET', `/reservations/${encodeURIComponent(key)}`);

async function stockOf(...ids: number[]): Promise<number[]> {
  const rows = await db('products').whereIn('id', ids).select('id', 'stock');
  const byId = new Map(rows.map((r) => [r.id as number, r.stock as number]));
  return ids.map((id) => byId.get(id) as number);
}

const statuses = (answers: JsonResponse<ReservationBody>[]) => answers.map((a) => a.status).sort();

describe('POST /internal/inventory/reservations', () => {
  it('takes the stock of every line and answers each line with its price at reservation time', async () => {
    const lamp = await createProduct(call, { priceCents: 4999, stock: 5 });
    const desk = await createProduct(call, { priceCents: 25000, stock: 2 });
    const key = newKey();
    const res = await reserve(key, [
      { productId: desk.id, quantity: 2 },
      { productId: lamp.id, quantity: 3 },
    ]);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      key,
      status: 'held',
      items: [
        { productId: desk.id, quantity: 2, unitPriceCents: 25000 },
        { productId: lamp.id, quantity: 3, unitPriceCents: 4999 },
      ],
    });
    expect(await stockOf(lamp.id, desk.id)).toEqual([2, 0]);
    // A price change afterwards does not change what was reserved.
    await db('products').where({ id: lamp.id }).update({ price_cents: 1 });
    expect((await reservation(key)).body).toEqual(res.body);
  });

  it('stamps updated_at on the products it takes stock from', async () => {
    const product = await createProduct(call, { stock: 5 });
    await db('products')
      .where({ id: product.id })
      .update({ updated_at: new Date('2020-01-01T00:00:00Z') });
    await reserve(newKey(), [{ productId: product.id, quantity: 1 }]);
    const row = await db('products').where({ id: product.id }).first('updated_at');
    expect((row.updated_at as Date).getFullYear()).toBeGreaterThan(2020);
  });

  it('reserves once when retried with the same key and items, in any order', async () => {
    const a = await createProduct(call, { stock: 10 });
    const b = await createProduct(call, { stock: 10 });
    const key = newKey();
    const first = await reserve(key, [
      { productId: a.id, quantity: 1 },
      { productId: b.id, quantity: 2 },
    ]);
    const retry = await reserve(key, [
      { productId: b.id, quantity: 2 },
      { productId: a.id, quantity: 1 },
    ]);
    expect(first.status).toBe(201);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(await stockOf(a.id, b.id)).toEqual([9, 8]);
  });

  it('reserves once when the same reserve arrives many times at once', async () => {
    const product = await createProduct(call, { stock: 100 });
    const key = newKey();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => reserve(key, [{ productId: product.id, quantity: 7 }])),
    );
    expect(statuses(answers)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    for (const a of answers) expect(a.body).toEqual(answers[0]?.body);
    expect(await stockOf(product.id)).toEqual([93]);
  });

  it('refuses the key of a held reservation with other items: 409 INVENTORY_KEY_REUSED', async () => {
    const product = await createProduct(call, { stock: 10 });
    const key = newKey();
    await reserve(key, [{ productId: product.id, quantity: 1 }]);
    const res = await reserve(key, [{ productId: product.id, quantity: 2 }]);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: {
        code: 'INVENTORY_KEY_REUSED',
        message: `Inventory key ${key} is already used for a reservation of other items; use a new key`,
      },
    });
    expect(await stockOf(product.id)).toEqual([9]);
  });

  it('reserves nothing when any line lacks stock, and names the line as ShopCo does', async () => {
    const plenty = await createProduct(call, { stock: 50 });
    const scarce = await createProduct(call, { stock: 2 });
    const key = newKey();
    const res = await reserve(key, [
      { productId: plenty.id, quantity: 5 },
      { productId: scarce.id, quantity: 3 },
    ]);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: {
        code: 'ORDERS_INSUFFICIENT_STOCK',
        message: `Not enough stock for product ${scarce.id}: 3 requested, 2 available`,
      },
    });
    expect(await stockOf(plenty.id, scarce.id)).toEqual([50, 2]);
    // A refused reserve leaves its key free: the same key may reserve what is there.
    expect((await reservation(key)).status).toBe(404);
    const again = await reserve(key, [{ productId: scarce.id, quantity: 2 }]);
    expect(again.status).toBe(201);
    expect(await stockOf(plenty.id, scarce.id)).toEqual([50, 0]);
  });

  it('answers 404 PRODUCTS_NOT_FOUND for an unknown product and reserves nothing', async () => {
    const product = await createProduct(call, { stock: 4 });
    const res = await reserve(newKey(), [
      { productId: product.id, quantity: 1 },
      { productId: 999_999, quantity: 1 },
    ]);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'PRODUCTS_NOT_FOUND', message: 'Product 999999 not found' } });
    expect(await stockOf(product.id)).toEqual([4]);
  });

  it('refuses a product twice with 400 ORDERS_DUPLICATE_ITEM, as ShopCo does', async () => {
    const product = await createProduct(call, { stock: 4 });
    const res = await reserve(newKey(), [
      { productId: product.id, quantity: 1 },
      { productId: product.id, quantity: 2 },
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'ORDERS_DUPLICATE_ITEM',
        message: `Product ${product.id} appears twice in items; send one line per product`,
      },
    });
    expect(await stockOf(product.id)).toEqual([4]);
  });

  it.each([
    ['a key with a space', { key: 'order 1', items: [{ productId: 1, quantity: 1 }] }],
    ['a key of 101 characters', { key: 'k'.repeat(101), items: [{ productId: 1, quantity: 1 }] }],
    ['an empty key', { key: '', items: [{ productId: 1, quantity: 1 }] }],
    ['no items', { key: 'k', items: [] }],
    ['101 items', { key: 'k', items: Array.from({ length: 101 }, (_, i) => ({ productId: i + 1, quantity: 1 })) }],
    ['a quantity of 0', { key: 'k', items: [{ productId: 1, quantity: 0 }] }],
    ['a fractional quantity', { key: 'k', items: [{ productId: 1, quantity: 1.5 }] }],
    ['a quantity as text', { key: 'k', items: [{ productId: 1, quantity: '1' }] }],
    ['product id 0', { key: 'k', items: [{ productId: 0, quantity: 1 }] }],
    ['a product id over int4', { key: 'k', items: [{ productId: 2_147_483_648, quantity: 1 }] }],
    ['an unknown field in a line', { key: 'k', items: [{ productId: 1, quantity: 1, price: 5 }] }],
    ['an unknown field', { key: 'k', items: [{ productId: 1, quantity: 1 }], userId: 1 }],
  ])('rejects %s with 400 VALIDATION_FAILED', async (_label, body) => {
    const res = await internal('POST', '/reservations', { body });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });
});

describe('POST /internal/inventory/reservations/:key/release', () => {
  it('puts the stock back, and releasing again changes nothing', async () => {
    const a = await createProduct(call, { stock: 6 });
    const b = await createProduct(call, { stock: 6 });
    const key = newKey();
    const held = await reserve(key, [
      { productId: b.id, quantity: 4 },
      { productId: a.id, quantity: 1 },
    ]);
    expect(await stockOf(a.id, b.id)).toEqual([5, 2]);
    const first = await release(key);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ ...held.body, status: 'released' });
    expect(await stockOf(a.id, b.id)).toEqual([6, 6]);
    const again = await release(key);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await stockOf(a.id, b.id)).toEqual([6, 6]);
  });

  it('releases once when the same release arrives many times at once', async () => {
    const product = await createProduct(call, { stock: 10 });
    const key = newKey();
    await reserve(key, [{ productId: product.id, quantity: 4 }]);
    const answers = await Promise.all(Array.from({ length: 8 }, () => release(key)));
    expect(statuses(answers)).toEqual(Array(8).fill(200));
    expect(await stockOf(product.id)).toEqual([10]);
  });

  it('refuses a reserve that arrives after its own release, and leaves the stock alone', async () => {
    const product = await createProduct(call, { stock: 3 });
    const key = newKey('timed-out');
    const released = await release(key);
    expect(released.status).toBe(200);
    expect(released.body).toEqual({ key, status: 'released', items: [] });
    const late = await reserve(key, [{ productId: product.id, quantity: 1 }]);
    expect(late.status).toBe(409);
    expect(late.body).toEqual({
      error: { code: 'INVENTORY_RESERVATION_RELEASED', message: `Inventory key ${key} is already released` },
    });
    expect(await stockOf(product.id)).toEqual([3]);
  });

  it('refuses to reserve again under a released key', async () => {
    const product = await createProduct(call, { stock: 3 });
    const key = newKey();
    await reserve(key, [{ productId: product.id, quantity: 1 }]);
    await release(key);
    const res = await reserve(key, [{ productId: product.id, quantity: 1 }]);
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('INVENTORY_RESERVATION_RELEASED');
    expect(await stockOf(product.id)).toEqual([3]);
  });

  it('either reserves and releases, or refuses the reserve, when the two race', async () => {
    for (let round = 0; round < 10; round++) {
      const product = await createProduct(call, { stock: 5 });
      const key = newKey('race');
      await Promise.all([reserve(key, [{ productId: product.id, quantity: 2 }]), release(key)]);
      // Whatever the order, once both are done the stock is whole and the key is released.
      expect(await stockOf(product.id)).toEqual([5]);
      expect((await reservation(key)).body.status).toBe('released');
    }
  });

  it('answers 409 INVENTORY_RESERVATION_RELEASED for the key of a return', async () => {
    const product = await createProduct(call, { stock: 3 });
    const key = newKey('return');
    await giveBack(key, [{ productId: product.id, quantity: 1 }]);
    const res = await release(key);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: { code: 'INVENTORY_RESERVATION_RELEASED', message: `Inventory key ${key} is already returned` },
    });
    expect(await stockOf(product.id)).toEqual([4]);
  });

  it('rejects a malformed key with 400', async () => {
    const res = await internal('POST', '/reservations/bad%20key/release');
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });
});

describe('POST /internal/inventory/returns', () => {
  it('puts back stock taken outside any reservation, once per key', async () => {
    const a = await createProduct(call, { stock: 0 });
    const b = await createProduct(call, { stock: 7 });
    const key = newKey('cancelled-order');
    const items = [
      { productId: b.id, quantity: 3 },
      { productId: a.id, quantity: 2 },
    ];
    const first = await giveBack(key, items);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ key, status: 'returned', items });
    expect(await stockOf(a.id, b.id)).toEqual([2, 10]);
    const repeat = await giveBack(key, [...items].reverse());
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(first.body);
    expect(await stockOf(a.id, b.id)).toEqual([2, 10]);
    expect((await reservation(key)).body).toEqual(first.body);
  });

  it('returns once when the same return arrives many times at once', async () => {
    const product = await createProduct(call, { stock: 0 });
    const key = newKey('cancelled-order');
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => giveBack(key, [{ productId: product.id, quantity: 5 }])),
    );
    expect(statuses(answers)).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(await stockOf(product.id)).toEqual([5]);
  });

  it('refuses the key of a reservation, held or released, with 409 INVENTORY_KEY_REUSED', async () => {
    const product = await createProduct(call, { stock: 5 });
    const held = newKey();
    await reserve(held, [{ productId: product.id, quantity: 1 }]);
    const released = newKey();
    await release(released);
    for (const key of [held, released]) {
      const res = await giveBack(key, [{ productId: product.id, quantity: 1 }]);
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        error: {
          code: 'INVENTORY_KEY_REUSED',
          message: `Inventory key ${key} is already used for a reservation; use a new key`,
        },
      });
    }
    expect(await stockOf(product.id)).toEqual([4]);
  });

  it('refuses a repeat of the key with other items, and a reserve under it', async () => {
    const product = await createProduct(call, { stock: 5 });
    const key = newKey('cancelled-order');
    await giveBack(key, [{ productId: product.id, quantity: 1 }]);
    const other = await giveBack(key, [{ productId: product.id, quantity: 2 }]);
    expect(other.status).toBe(409);
    expect(errorCode(other)).toBe('INVENTORY_KEY_REUSED');
    const reserved = await reserve(key, [{ productId: product.id, quantity: 1 }]);
    expect(reserved.status).toBe(409);
    expect(errorCode(reserved)).toBe('INVENTORY_RESERVATION_RELEASED');
    expect(await stockOf(product.id)).toEqual([6]);
  });

  it('answers 404 PRODUCTS_NOT_FOUND for an unknown product, returns nothing and keeps the key free', async () => {
    const product = await createProduct(call, { stock: 5 });
    const key = newKey('cancelled-order');
    const res = await giveBack(key, [
      { productId: product.id, quantity: 1 },
      { productId: 999_998, quantity: 1 },
    ]);
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('PRODUCTS_NOT_FOUND');
    expect(await stockOf(product.id)).toEqual([5]);
    expect((await reservation(key)).status).toBe(404);
  });
});

describe('GET /internal/inventory/reservations/:key', () => {
  it('answers 404 INVENTORY_RESERVATION_NOT_FOUND for an unknown key', async () => {
    const res = await reservation('never-used');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { code: 'INVENTORY_RESERVATION_NOT_FOUND', message: 'Inventory key never-used not found' },
    });
  });
});

describe('the internal token', () => {
  const tokens: Array<[string, CallOptions]> = [
    ['no token', { token: '' }],
    ['a wrong token', { token: `${INTERNAL_TOKEN}x` }],
    ['a prefix of the token', { token: INTERNAL_TOKEN.slice(0, -1) }],
    ['a user token scheme', { token: '', headers: { authorization: `Basic ${INTERNAL_TOKEN}` } }],
  ];

  it.each(tokens)('answers 401 PRODUCTS_INTERNAL_TOKEN to %s on every route, and changes nothing', async (_l, auth) => {
    const product = await createProduct(call, { stock: 5 });
    const held = newKey();
    await reserve(held, [{ productId: product.id, quantity: 1 }]);
    const key = newKey();
    const items = [{ productId: product.id, quantity: 1 }];
    const answers = await Promise.all([
      reserve(key, items, auth),
      release(held, auth),
      internal('POST', '/returns', { body: { key, items }, ...auth }),
      internal('GET', `/reservations/${held}`, auth),
      // The token is checked before the body is read: even a body that does not parse gets 401.
      internal('POST', '/reservations', { rawBody: '{', headers: { 'content-type': 'application/json' }, ...auth }),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: {
          code: 'PRODUCTS_INTERNAL_TOKEN',
          message: 'Send the internal API token: Authorization: Bearer <INTERNAL_API_TOKEN>',
        },
      });
    }
    expect(await stockOf(product.id)).toEqual([4]);
    expect((await reservation(held)).body.status).toBe('held');
    expect((await reservation(key)).status).toBe(404);
  });

  it('is not needed by the public products routes', async () => {
    const product = await createProduct(call);
    expect((await call('GET', `/api/products/${product.id}`)).status).toBe(200);
  });
});

describe('under concurrency', () => {
  it('never oversells: 50 reserves of 1 against a stock of 10 give exactly 10 reservations', async () => {
    const product = await createProduct(call, { stock: 10 });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => reserve(newKey(`rush-${i}`), [{ productId: product.id, quantity: 1 }])),
    );
    const byStatus = Map.groupBy(answers, (a) => a.status);
    expect(byStatus.get(201)?.length).toBe(10);
    expect(byStatus.get(409)?.length).toBe(40);
    for (const res of byStatus.get(409) ?? []) expect(errorCode(res)).toBe('ORDERS_INSUFFICIENT_STOCK');
    expect(await stockOf(product.id)).toEqual([0]);
    const { rows } = await db.raw(
      "select count(*)::int as held from inventory_reservations where status = 'held' and items @> ?::jsonb",
      [JSON.stringify([{ productId: product.id }])],
    );
    expect(rows[0].held).toBe(10);
  });

  it('keeps every unit accounted for when reserves, releases and returns overlap on shared products', async () => {
    const products = await Promise.all([1, 2, 3].map(() => createProduct(call, { stock: 20 })));
    const [p1, p2, p3] = products.map((p) => p.id) as [number, number, number];
    // Lines in different orders on purpose: locking in id order keeps them from deadlocking.
    const orders = Array.from({ length: 30 }, (_, i) => ({
      key: newKey(`mix-${i}`),
      items:
        i % 2 === 0
          ? [
              { productId: p3, quantity: 1 },
              { productId: p1, quantity: 2 },
            ]
          : [
              { productId: p1, quantity: 1 },
              { productId: p2, quantity: 1 },
              { productId: p3, quantity: 1 },
            ],
    }));
    const answers = await Promise.all(
      orders.map(async (o, i) => {
        const res = await reserve(o.key, o.items);
        if (res.status === 201 && i % 3 === 0) await release(o.key);
        return res;
      }),
    );
    for (const res of answers) expect([201, 409]).toContain(res.status);
    const rows = await db('inventory_reservations').whereLike('key', 'mix-%').select('status', 'items');
    const taken = new Map<number, number>();
    for (const row of rows.filter((r) => r.status === 'held')) {
      for (const line of row.items as Line[])
        taken.set(line.productId, (taken.get(line.productId) ?? 0) + line.quantity);
    }
    expect(await stockOf(p1, p2, p3)).toEqual([p1, p2, p3].map((id) => 20 - (taken.get(id) ?? 0)));
    for (const s of await stockOf(p1, p2, p3)) expect(s).toBeGreaterThanOrEqual(0);
  });
});

describe('the schema', () => {
  it('refuses a negative stock even from a writer that skips the service', async () => {
    const product = await createProduct(call, { stock: 1 });
    await expect(db('products').where({ id: product.id }).update({ stock: -1 })).rejects.toMatchObject({
      code: '23514',
      constraint: 'products_stock_non_negative',
    });
  });

  it('refuses an unknown reservation status', async () => {
    await expect(
      db('inventory_reservations').insert({ key: newKey(), status: 'pending', items: '[]' }),
    ).rejects.toMatchObject({ code: '23514', constraint: 'inventory_reservations_status_known' });
  });
});
