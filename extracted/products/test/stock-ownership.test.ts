import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlagClient, type FlagClient, flagName, UnleashAdminApi } from '@strangler/flags';
import { createKnex, createRedis, FenceCoordinator, type Knex, type Redis } from '@strangler/foundation';
import {
  type Call,
  client,
  errorCode,
  freshDatabase,
  lockFlags,
  signUp,
  type TestDatabase,
} from '@strangler/foundation/testing';
import { buildApp as buildMonolith } from '@strangler/monolith';
import { testConfig as monolithTestConfig } from '@strangler/monolith/config';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Started, startProductsService } from './helpers.ts';

/**
 * ShopCo's orders take stock from whoever owns products (ADR 0013), with
 * every part real: ShopCo and the products service over HTTP, the flag read
 * from the run's Unleash, the write fence in Redis. Both databases hold the
 * same products with the same stock, as the sync leaves them; the sync itself
 * is not running here, so each side's stock shows exactly which side an order
 * used.
 */

const PRODUCTS = [
  { id: 1, sku: 'LAMP-1', name: 'Desk lamp', stock: 10, priceCents: 2500 },
  { id: 2, sku: 'MUG-1', name: 'Mug', stock: 3, priceCents: 900 },
];
const APPROVED = '4242424242424242';
const DECLINED = '4000000000000002';
// Room for a flag change to reach ShopCo during a hold on a busy machine; the 503 test waits this long.
const HOLD_MAX_MS = 4_000;

let release: () => Promise<void>;
let admin: UnleashAdminApi;
let flags: FlagClient;
let redis: Redis;
let coordinator: FenceCoordinator;
let monolithDb: TestDatabase;
let monolith: FastifyInstance;
let monolithKnex: Knex;
let products: Started;
let productsKnex: Knex;
let call: Call;
let shopper: { id: number; token: string };
const prefix = `test-stock-${process.pid}:fence`;

const stockIn = async (knex: Knex, id: number): Promise<number> =>
  Number((await knex('products').where({ id }).first('stock'))?.stock);
const stocks = async (id: number) => ({
  monolith: await stockIn(monolithKnex, id),
  service: await stockIn(productsKnex, id),
});

async function order(items: Array<{ productId: number; quantity: number }>) {
  return call<{ id: number; status: string; totalCents: number }>('POST', '/api/orders', {
    token: shopper.token,
    body: { userId: shopper.id, items },
  });
}

async function setProductsWriteOwner(owner: 'monolith' | 'service'): Promise<void> {
  const name = flagName('products', 'writes');
  if (owner === 'service') {
    await admin.setRollout(name, 100);
    await admin.enable(name);
  } else {
    await admin.disable(name);
  }
  // ShopCo reports the owner its flags give: once it does, its next stock change follows it.
  await coordinator.waitOwner('products', owner, 10_000);
}

beforeAll(async () => {
  release = await lockFlags();
  admin = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
  await admin.ensureFlags();
  await admin.killSwitch(false);
  await admin.disable(flagName('products', 'writes'));
  redis = createRedis({ url: inject('redisUrl'), role: 'client' });
  coordinator = new FenceCoordinator(redis, { prefix });

  products = await startProductsService();
  productsKnex = createKnex({ url: products.db.url, pool: { max: 2 } });
  monolithDb = await freshDatabase('monolith');
  monolithKnex = createKnex({ url: monolithDb.url, pool: { max: 2 } });
  for (const p of PRODUCTS) {
    const common = { id: p.id, sku: p.sku, name: p.name, stock: p.stock };
    await monolithKnex('products').insert({ ...common, price: (p.priceCents / 100).toFixed(2) });
    await productsKnex('products').insert({ ...common, price_cents: p.priceCents });
  }

  flags = createFlagClient({
    url: inject('unleashUrl'),
    clientToken: inject('unleashClientToken'),
    refreshMs: 200,
    backupPath: join(mkdtempSync(join(tmpdir(), 'strangler-stock-')), 'backup.json'),
  });
  expect(await flags.whenFresh(5_000)).toBe(true);
  monolith = await buildMonolith(
    monolithTestConfig({
      DATABASE_URL: monolithDb.url,
      PRODUCTS_SERVICE_URL: products.url,
      REDIS_URL: inject('redisUrl'),
      FENCE_KEY_PREFIX: prefix,
      STOCK_HOLD_MAX_MS: String(HOLD_MAX_MS),
      INVENTORY_TIMEOUT_MS: '1000',
    }),
    { flags },
  );
  call = client(await monolith.listen({ host: '127.0.0.1', port: 0 }));
  shopper = await signUp(call);
}, 60_000);

afterAll(async () => {
  await monolith?.close();
  await flags?.close();
  await admin?.disable(flagName('products', 'writes'));
  await Promise.all([monolithKnex?.destroy(), productsKnex?.destroy()]);
  await products?.close();
  await monolithDb?.drop();
  redis?.disconnect();
  await release?.();
});

describe("ShopCo's stock follows the products write owner", () => {
  let takenLocally: number;
  let reserved: number;

  it('while ShopCo owns products, an order takes stock from its own table', async () => {
    await setProductsWriteOwner('monolith');
    const res = await order([{ productId: 1, quantity: 2 }]);
    expect(res.status).toBe(201);
    takenLocally = res.body.id;
    expect(await stocks(1)).toEqual({ monolith: 8, service: 10 });
    expect(await monolithKnex('orders').where({ id: takenLocally }).first('stock_source', 'stock_key')).toEqual({
      stock_source: 'monolith',
      stock_key: null,
    });
  });

  it('once the service owns products, an order reserves there, at its prices, under a key kept on the order', async () => {
    await setProductsWriteOwner('service');
    // The service's price differs from ShopCo's stale one: the order uses the owner's.
    await productsKnex('products').where({ id: 1 }).update({ price_cents: 2600 });
    const res = await order([{ productId: 1, quantity: 3 }]);
    expect(res.status).toBe(201);
    expect(res.body.totalCents).toBe(7800);
    reserved = res.body.id;
    expect(await stocks(1)).toEqual({ monolith: 8, service: 7 });
    const row = await monolithKnex('orders').where({ id: reserved }).first('stock_source', 'stock_key');
    expect(row.stock_source).toBe('service');
    const held = await productsKnex('inventory_reservations').where({ key: row.stock_key }).first('status');
    expect(held).toEqual({ status: 'held' });
  });

  it('refuses an order the service has no stock for with the same 409, and records no order', async () => {
    const before = await monolithKnex('orders').count<Array<{ n: string }>>('* as n');
    const res = await order([
      { productId: 1, quantity: 1 },
      { productId: 2, quantity: 4 },
    ]);
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('ORDERS_INSUFFICIENT_STOCK');
    expect(await monolithKnex('orders').count<Array<{ n: string }>>('* as n')).toEqual(before);
    expect(await stocks(1)).toEqual({ monolith: 8, service: 7 });
    expect(await stocks(2)).toEqual({ monolith: 3, service: 3 });
  });

  it('cancelling gives stock back to the service: a reservation is released, an older local order returned', async () => {
    const cancel = (id: number) => call('PATCH', `/api/orders/${id}/status`, { body: { status: 'cancelled' } });
    expect((await cancel(reserved)).status).toBe(200);
    expect(await stocks(1)).toEqual({ monolith: 8, service: 10 });
    expect((await cancel(takenLocally)).status).toBe(200);
    // Taken from ShopCo's table before the move; returned to the owner of stock now.
    expect(await stocks(1)).toEqual({ monolith: 8, service: 12 });
    expect(
      await productsKnex('inventory_reservations')
        .where({ key: `order-${takenLocally}-cancelled` })
        .first('status'),
    ).toEqual({ status: 'returned' });
    // A second cancel is refused by the order's lifecycle, and gives nothing back.
    expect((await cancel(takenLocally)).status).toBe(409);
    expect(await stocks(1)).toEqual({ monolith: 8, service: 12 });
  });

  it('a declined checkout releases its reservation and cancels the order (the saga compensates)', async () => {
    const res = await call<{ error: unknown }>('POST', '/api/checkout', {
      token: shopper.token,
      body: { userId: shopper.id, items: [{ productId: 2, quantity: 2 }], card: DECLINED },
    });
    expect(res.status).toBe(402);
    expect(await stocks(2)).toEqual({ monolith: 3, service: 3 });
    const last = await monolithKnex('orders').orderBy('id', 'desc').first('status', 'stock_key');
    expect(last.status).toBe('cancelled');
    expect(await productsKnex('inventory_reservations').where({ key: last.stock_key }).first('status')).toEqual({
      status: 'released',
    });
    const paid = await call('POST', '/api/checkout', {
      token: shopper.token,
      body: { userId: shopper.id, items: [{ productId: 2, quantity: 2 }], card: APPROVED },
    });
    expect(paid.status).toBe(201);
    expect(await stocks(2)).toEqual({ monolith: 3, service: 1 });
  });

  it('a products cutover holds stock changes: an order waits for the release, then goes to the owner of that moment', async () => {
    const hold = await coordinator.hold('products', 'stock test', 10_000);
    // ShopCo acknowledges the hold like a router: it has no stock change in flight.
    const members = await coordinator.waitHeld(hold, 5_000);
    expect(members.some((m) => m.kind === 'shopco')).toBe(true);
    let answered = false;
    const pending = order([{ productId: 1, quantity: 1 }]).then((res) => {
      answered = true;
      return res;
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(answered).toBe(false);
    // The switch happens under the hold: stock goes back to ShopCo before the order is let go.
    await admin.disable(flagName('products', 'writes'));
    await coordinator.waitOwner('products', 'monolith', 5_000);
    await coordinator.release(hold);
    const res = await pending;
    expect(res.status).toBe(201);
    expect(await stocks(1)).toEqual({ monolith: 7, service: 12 });
  });

  it('a hold longer than STOCK_HOLD_MAX_MS refuses the order with a 503, and takes nothing', async () => {
    const hold = await coordinator.hold('products', 'stock test', 10_000);
    await coordinator.waitHeld(hold, 5_000);
    try {
      const res = await order([{ productId: 1, quantity: 1 }]);
      expect(res.status).toBe(503);
      expect(errorCode(res)).toBe('ORDERS_STOCK_HELD');
    } finally {
      await coordinator.release(hold);
    }
    expect(await stocks(1)).toEqual({ monolith: 7, service: 12 });
  });

  it('with the products service down, an order is refused with a 503 and nothing is recorded', async () => {
    await setProductsWriteOwner('service');
    await products.app.close();
    const before = await monolithKnex('orders').count<Array<{ n: string }>>('* as n');
    const res = await order([{ productId: 1, quantity: 1 }]);
    expect(res.status).toBe(503);
    expect(errorCode(res)).toBe('ORDERS_INVENTORY_UNAVAILABLE');
    expect(await monolithKnex('orders').count<Array<{ n: string }>>('* as n')).toEqual(before);
    expect(await stocks(1)).toEqual({ monolith: 7, service: 12 });
  });
});
