import { scryptSync, timingSafeEqual } from 'node:crypto';
import { createKnex } from '@strangler/foundation';
import { freshDatabase } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSeedPlan,
  generateOrderItems,
  generateOrders,
  generatePayments,
  generateProducts,
  generateUsers,
  SEED_PASSWORD,
  type SeedOptions,
  type SeedPlan,
  type SeedTable,
  seedOptionsProblem,
} from '../src/seed/generate.ts';
import { pgArrayLiteral, SeedRefusedError, seedDatabase } from '../src/seed/load.ts';

const db = await freshDatabase('monolith');
const knex = createKnex({ url: db.url, pool: { max: 2 } });

afterAll(async () => {
  await knex.destroy();
  await db.drop();
});

/** Every row of every table, in memory: fine at test sizes. */
function generateAll(plan: SeedPlan, batchSize?: number) {
  return {
    users: [...generateUsers(plan, batchSize)].flat(),
    products: [...generateProducts(plan, batchSize)].flat(),
    orders: [...generateOrders(plan, batchSize)].flat(),
    orderItems: [...generateOrderItems(plan, batchSize)].flat(),
    payments: [...generatePayments(plan, batchSize)].flat(),
  };
}

const cents = (dollars: string): number => {
  const [whole, fraction] = dollars.split('.');
  return Number(whole) * 100 + Number(fraction);
};

/** The monolith's check, restated: `scrypt$N$r$p$salt$hash`. */
function verifies(password: string, stored: string): boolean {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = scryptSync(password.normalize('NFC'), Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(key, expected);
}

const SMALL: SeedOptions = { seed: 7, users: 40, products: 25, orders: 120 };

describe('seed generation (no database)', () => {
  it('gives byte-identical rows for the same seed and scale, whatever the batch size', async () => {
    const a = JSON.stringify(generateAll(await createSeedPlan(SMALL), 7));
    const b = JSON.stringify(generateAll(await createSeedPlan(SMALL), 1000));
    expect(a).toBe(b);
  });

  it('gives different rows for a different seed', async () => {
    const a = generateAll(await createSeedPlan(SMALL));
    const b = generateAll(await createSeedPlan({ ...SMALL, seed: 8 }));
    expect(a.users.map((u) => u.email)).not.toEqual(b.users.map((u) => u.email));
    expect(a.products.map((p) => p.price)).not.toEqual(b.products.map((p) => p.price));
    expect(a.orders.map((o) => o.total)).not.toEqual(b.orders.map((o) => o.total));
  });

  it('keeps the first rows when the scale grows: each row depends only on the seed and its id', async () => {
    const small = generateAll(await createSeedPlan({ ...SMALL, users: 40, orders: 10 }));
    const large = generateAll(await createSeedPlan({ ...SMALL, users: 40, orders: 100 }));
    expect(large.orders.slice(0, 10)).toEqual(small.orders);
    expect(large.users).toEqual(small.users);
  });

  it('yields batches no larger than asked, with ids from 1 and no gaps', async () => {
    const plan = await createSeedPlan(SMALL);
    const batches = [...generateUsers(plan, 15)];
    expect(batches.map((b) => b.length)).toEqual([15, 15, 10]);
    expect(batches.flat().map((u) => u.id)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const items = [...generateOrderItems(plan, 50)].flat();
    expect(items.map((i) => i.id)).toEqual(Array.from({ length: items.length }, (_, i) => i + 1));
  });

  it('makes rows that hang together', async () => {
    const plan = await createSeedPlan({ seed: 3, users: 500, products: 200, orders: 2000 });
    const { users, products, orders, orderItems, payments } = generateAll(plan);

    const emails = users.map((u) => u.email);
    expect(new Set(emails).size).toBe(users.length);
    for (const email of emails) expect(email).toMatch(/^[a-z._]+\d+@[a-z.]+$/);
    expect(new Set(products.map((p) => p.sku)).size).toBe(products.length);
    for (const p of products) {
      expect(p.price).toMatch(/^\d+\.\d{2}$/);
      expect(p.stock).toBeGreaterThanOrEqual(0);
    }
    expect(products.some((p) => p.stock <= 5)).toBe(true);

    const price = new Map(products.map((p) => [p.id, p.price]));
    const itemCents = new Map<number, number>();
    for (const item of orderItems) {
      expect(item.unit_price).toBe(price.get(item.product_id));
      itemCents.set(item.order_id, (itemCents.get(item.order_id) ?? 0) + item.quantity * cents(item.unit_price));
    }
    for (const order of orders) {
      expect(order.user_id).toBeGreaterThanOrEqual(1);
      expect(order.user_id).toBeLessThanOrEqual(500);
      expect(cents(order.total)).toBe(itemCents.get(order.id));
    }
    expect(new Set(orders.map((o) => o.status))).toEqual(
      new Set(['pending', 'paid', 'shipped', 'cancelled', 'refunded']),
    );

    const orderById = new Map(orders.map((o) => [o.id, o]));
    const expectedPaid = orders.filter((o) => ['paid', 'shipped', 'refunded'].includes(o.status));
    expect(payments.map((p) => p.order_id)).toEqual(expectedPaid.map((o) => o.id));
    for (const payment of payments) {
      const order = orderById.get(payment.order_id);
      expect(payment.amount_cents).toBe(cents(order?.total ?? ''));
      expect(payment.status).toBe(order?.status === 'refunded' ? 'refunded' : 'succeeded');
      expect(payment.card_last4).toMatch(/^\d{4}$/);
    }
  });

  it('hashes the shared password once, in the monolith format, deterministically', async () => {
    const plan = await createSeedPlan({ seed: 1, users: 3, products: 0, orders: 0 });
    const hashes = new Set(generateAll(plan).users.map((u) => u.password_hash));
    expect(hashes.size).toBe(1);
    expect(plan.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{88}$/);
    expect(verifies(SEED_PASSWORD, plan.passwordHash)).toBe(true);
    expect(verifies('wrong', plan.passwordHash)).toBe(false);
    expect((await createSeedPlan({ seed: 1, users: 3, products: 0, orders: 0 })).passwordHash).toBe(plan.passwordHash);
  });

  it('rejects unusable options with a clear message', async () => {
    expect(seedOptionsProblem({ seed: 1, users: 0, products: 5, orders: 1 })).toMatch(/users and products/);
    expect(seedOptionsProblem({ seed: 1, users: -1, products: 0, orders: 0 })).toMatch(/users must be a non-negative/);
    expect(seedOptionsProblem({ seed: 1.5, users: 0, products: 0, orders: 0 })).toMatch(/seed/);
    expect(seedOptionsProblem({ seed: 1, users: 0, products: 0, orders: 0 })).toBeUndefined();
    await expect(createSeedPlan({ seed: 1, users: 1, products: 0, orders: 1 })).rejects.toThrow(/users and products/);
  });
});

describe('seedDatabase', () => {
  const scale = { seed: 11, users: 300, products: 80, orders: 700 };
  const progress: Array<[SeedTable, number, number]> = [];
  let report: Awaited<ReturnType<typeof seedDatabase>>;

  const count = async (table: string): Promise<number> => {
    const [row] = await knex(table).count<Array<{ count: number }>>({ count: '*' });
    return Number(row?.count);
  };

  beforeAll(async () => {
    report = await seedDatabase({
      databaseUrl: db.url,
      ...scale,
      batchSize: 128,
      onProgress: (table, done, total) => progress.push([table, done, total]),
    });
  });

  it('inserts exactly the requested users, products and orders, and reports every table', async () => {
    expect(await count('users')).toBe(300);
    expect(await count('products')).toBe(80);
    expect(await count('orders')).toBe(700);
    expect(await count('order_items')).toBeGreaterThanOrEqual(700);
    for (const { table, rows } of report.tables) expect(await count(table)).toBe(rows);
    expect(report.tables.map((t) => t.table)).toEqual(['users', 'products', 'orders', 'order_items', 'payments']);
  });

  it('reports progress from 0 to the total of each table', () => {
    for (const { table, rows } of report.tables) {
      const events = progress.filter(([t]) => t === table);
      expect(events[0]).toEqual([table, 0, rows]);
      expect(events.at(-1)).toEqual([table, rows, rows]);
      const done = events.map(([, d]) => d);
      expect(done).toEqual([...done].sort((a, b) => a - b));
    }
  });

  it('stores the generated rows as generated', async () => {
    const generated = generateAll(await createSeedPlan(scale));
    const users = await knex('users').select('id', 'email', 'full_name').orderBy('id');
    expect(users).toEqual(generated.users.map(({ id, email, full_name }) => ({ id, email, full_name })));
    const products = await knex('products').select('id', 'sku', 'name', 'description', 'price', 'stock').orderBy('id');
    expect(products).toEqual(
      generated.products.map(({ id, sku, name, description, price, stock }) => ({
        id,
        sku,
        name,
        description,
        price,
        stock,
      })),
    );
  });

  it("makes every order's total the sum of its items", async () => {
    const mismatched = await knex.raw<{ rows: unknown[] }>(
      `SELECT o.id FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
        GROUP BY o.id HAVING o.total IS DISTINCT FROM sum(i.quantity * i.unit_price)`,
    );
    expect(mismatched.rows).toEqual([]);
    const unpriced = await knex.raw<{ rows: unknown[] }>(
      'SELECT i.id FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.unit_price <> p.price',
    );
    expect(unpriced.rows).toEqual([]);
  });

  it('pays paid, shipped and refunded orders, each for its total in cents', async () => {
    const wrong = await knex.raw<{ rows: unknown[] }>(
      `SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id
        WHERE p.amount_cents <> (o.total * 100)::int
           OR p.status <> CASE o.status WHEN 'refunded' THEN 'refunded' ELSE 'succeeded' END`,
    );
    expect(wrong.rows).toEqual([]);
    const unpaid = await knex.raw<{ rows: unknown[] }>(
      `SELECT o.id FROM orders o WHERE o.status IN ('paid', 'shipped', 'refunded')
          AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)
        UNION ALL
       SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status IN ('pending', 'cancelled')`,
    );
    expect(unpaid.rows).toEqual([]);
  });

  it('makes emails unique case-insensitively, and lower-case', async () => {
    const { rows } = await knex.raw<{ rows: Array<{ total: number; distinct: number; upper: number }> }>(
      `SELECT count(*) AS total, count(DISTINCT lower(email)) AS distinct,
              count(*) FILTER (WHERE email <> lower(email)) AS upper FROM users`,
    );
    expect(rows[0]).toEqual({ total: 300, distinct: 300, upper: 0 });
  });

  it('gives every user a hash of the demo password', async () => {
    const { password_hash } = await knex('users').select('password_hash').where({ id: 123 }).first();
    expect(verifies(SEED_PASSWORD, password_hash)).toBe(true);
    expect(report.demoLogin).toEqual({
      email: (await knex('users').where({ id: 1 }).first()).email,
      password: 'shopco-demo',
    });
  });

  it('puts the foreign keys back', async () => {
    const { rows } = await knex.raw<{ rows: Array<{ name: string }> }>(
      `SELECT conname AS name FROM pg_constraint WHERE contype = 'f'
          AND conrelid = ANY('{users,products,orders,order_items,payments}'::regclass[]) ORDER BY conname`,
    );
    expect(rows.map((r) => r.name)).toEqual([
      'order_items_order_id_foreign',
      'order_items_product_id_foreign',
      'orders_user_id_foreign',
      'payments_order_id_foreign',
    ]);
    await expect(
      knex('order_items').insert({ order_id: 999_999, product_id: 1, quantity: 1, unit_price: '1.00' }),
    ).rejects.toMatchObject({ code: '23503' });
  });

  it('resets the id sequences, so the next plain insert gets id N+1', async () => {
    const [user] = await knex('users')
      .insert({ email: 'new.user@example.com', full_name: 'New User', password_hash: 'x' })
      .returning('id');
    expect(user.id).toBe(301);
    const [product] = await knex('products')
      .insert({ sku: 'NEW-1', name: 'New', price: '1.00', stock: 1 })
      .returning('id');
    expect(product.id).toBe(81);
    const [order] = await knex('orders').insert({ user_id: 1, total: '0.00' }).returning('id');
    expect(order.id).toBe(701);
  });

  it('refuses to seed a database that has data, and leaves it alone', async () => {
    const attempt = seedDatabase({ databaseUrl: db.url, ...scale });
    await expect(attempt).rejects.toBeInstanceOf(SeedRefusedError);
    await expect(attempt).rejects.toThrow(/already has 301 users, 81 products and 701 orders/);
    expect(await count('users')).toBe(301);
  });

  it('rolls everything back when seeding fails part-way', async () => {
    const failing = seedDatabase({
      databaseUrl: db.url,
      seed: 5,
      users: 10,
      products: 10,
      orders: 10,
      reset: true,
      onProgress: (table, done) => {
        if (table === 'order_items' && done > 0) throw new Error('interrupted');
      },
    });
    await expect(failing).rejects.toThrow('interrupted');
    expect(await count('users')).toBe(301);
    expect(await count('orders')).toBe(701);
  });

  it('replaces everything with reset: true', async () => {
    const again = await seedDatabase({
      databaseUrl: db.url,
      seed: 5,
      users: 20,
      products: 10,
      orders: 30,
      reset: true,
    });
    expect(again.tables.slice(0, 3).map((t) => t.rows)).toEqual([20, 10, 30]);
    expect(await count('users')).toBe(20);
    expect(await count('products')).toBe(10);
    expect(await count('orders')).toBe(30);
    const [user] = await knex('users')
      .insert({ email: 'another@example.com', full_name: 'Another', password_hash: 'x' })
      .returning('id');
    expect(user.id).toBe(21);
  });

  it('seeds an empty scale without error', async () => {
    const empty = await seedDatabase({ databaseUrl: db.url, seed: 1, users: 0, products: 0, orders: 0, reset: true });
    expect(empty.tables.every((t) => t.rows === 0)).toBe(true);
    expect(empty.demoLogin).toBeNull();
    expect(await count('users')).toBe(0);
  });
});

describe('pgArrayLiteral', () => {
  it('round-trips awkward text through Postgres', async () => {
    const values = [
      'plain',
      '',
      'NULL',
      'with "quotes"',
      'back\\slash',
      'a,b',
      '{braces}',
      ' spaced ',
      'é ü 日本',
      null,
    ];
    const { rows } = await knex.raw<{ rows: Array<{ value: string | null }> }>('SELECT unnest(?::text[]) AS value', [
      pgArrayLiteral(values),
    ]);
    expect(rows.map((r) => r.value)).toEqual(values);
  });

  it('writes numbers bare', () => {
    expect(pgArrayLiteral([1, 22, null])).toBe('{1,22,NULL}');
  });
});
