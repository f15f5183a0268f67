import { join } from 'node:path';
import type { Knex } from '@strangler/foundation';
import type { Call } from '@strangler/foundation/testing';
import { expect } from 'vitest';
import type { JourneySpec, JourneyStack, Workload } from './journey.ts';
import type { Actor, Failure } from './load.ts';

/**
 * The products journey's workload, around the hardest data in ShopCo: stock,
 * which the monolith's orders write. Buyers keep checking out (most cards
 * declined, so the checkout saga keeps compensating) and ordering a few
 * limited prints, and cancel their pending orders; a merchant creates
 * products and sets their stock; visitors read and search the catalogue.
 * ShopCo runs with its stock following the products write owner (ADR 0013),
 * so from `writes` on every order reserves through the products service.
 *
 * The invariant at the end, for every limited print, on both sides:
 * initial stock − final stock = the units in paid or pending orders, and
 * stock never went below zero.
 */

const PASSWORD = 'correct horse battery';
const APPROVED = '4242424242424242';
const DECLINED = '4000000000000002';
/**
 * The limited prints' stock: two run out early and are fought over unit by
 * unit for the rest of the journey; two last through every stage, so orders
 * reserve and release through the service while it owns stock.
 */
const LIMITED_STOCK = [8, 8, 200, 200];
const WORDS = ['lamp', 'table', 'mug', 'chair', 'rug'];

interface AckedProduct {
  id: number;
  sku: string;
  name: string;
  priceCents: number;
  /** The stock of the last inventory update that got a 2xx. */
  stock: number;
}

/** Orders as their last acknowledged answer left them. */
interface AckedOrder {
  id: number;
  status: 'pending' | 'paid' | 'cancelled';
}

export const productsJourney: JourneySpec = {
  context: 'products',
  heldBy: '2 router(s) and 1 ShopCo process(es)',
  fenceMembers: 3,
  monolithEnv: ({ serviceUrl, redisUrl, fencePrefix, logDir, unleash }) => ({
    PRODUCTS_SERVICE_URL: serviceUrl,
    REDIS_URL: redisUrl,
    FENCE_KEY_PREFIX: fencePrefix,
    UNLEASH_URL: unleash.url,
    UNLEASH_CLIENT_TOKEN: unleash.clientToken,
    FLAG_REFRESH_MS: '250',
    FLAG_BACKUP_PATH: join(logDir, 'shopco-flags-backup.json'),
  }),

  async seed(monolith) {
    // A catalogue to read and search, plenty of each; and a few limited prints that buyers fight over.
    await monolith('products').insert(
      Array.from({ length: 30 }, (_, i) => ({
        sku: `CAT-${i}`,
        name: `${['Oak', 'Brass', 'Linen', 'Stone', 'Glass'][i % 5]} ${WORDS[i % WORDS.length]} ${i}`,
        description: `A ${WORDS[(i + 2) % WORDS.length]}-friendly piece, number ${i}`,
        price: `${10 + i}.${String((i * 7) % 100).padStart(2, '0')}`,
        stock: 1_000,
      })),
    );
    await monolith('products').insert(
      LIMITED_STOCK.map((stock, i) => ({
        sku: `LIMITED-${i}`,
        name: `Limited print ${i}`,
        description: null,
        price: '49.00',
        stock,
      })),
    );
  },

  async pendingWrite(call: Call) {
    const created = await call('POST', '/api/products', {
      body: { sku: `PENDING-${process.pid}-${Date.now()}`, name: 'Pending product', priceCents: 100, stock: 1 },
    });
    expect(created.status).toBe(201);
  },

  async startLoad({ monolith, load }: JourneyStack): Promise<Workload> {
    const limited = (await monolith('products')
      .where('sku', 'like', 'LIMITED-%')
      .orderBy('id')
      .pluck('id')) as number[];
    const catalogue = (await monolith('products').where('sku', 'like', 'CAT-%').orderBy('id').pluck('id')) as number[];
    const products = new Map<number, AckedProduct>();
    const orders = new Map<number, AckedOrder>();
    let counter = 0;

    const buyer =
      (n: number): Actor =>
      async ({ send, stopped, pause }) => {
        const email = `buyer.${process.pid}.${n}.${Date.now()}@example.test`;
        const registered = await send('POST', 'register', '/api/users/register', {
          body: { email, password: PASSWORD, name: `Buyer ${n}` },
        });
        const login = await send('POST', 'login', '/api/users/login', { body: { email, password: PASSWORD } });
        if (registered?.status !== 201 || login?.status !== 200) throw new Error(`buyer ${n} could not sign up`);
        const me = { id: (registered.body as { id: number }).id, token: (login.body as { token: string }).token };
        const pending: number[] = [];
        let round = 0;
        while (!stopped()) {
          round++;
          const productId = limited[(round + n) % limited.length] as number;
          const quantity = 1 + ((round * 7 + n) % 2);
          if (round % 4 === 0) {
            // One checkout in four is paid; the others are declined and compensated (the stock comes back).
            const card = round % 16 === 0 ? APPROVED : DECLINED;
            const res = await send('POST', 'checkout', '/api/checkout', {
              token: me.token,
              body: { userId: me.id, items: [{ productId, quantity }], card },
            });
            if (res?.status === 201) {
              const id = (res.body as { order: { id: number } }).order.id;
              orders.set(id, { id, status: 'paid' });
              load.acked();
            }
          } else if (round % 4 === 1) {
            const res = await send('POST', 'order', '/api/orders', {
              token: me.token,
              body: { userId: me.id, items: [{ productId, quantity }] },
            });
            if (res?.status === 201) {
              const id = (res.body as { id: number }).id;
              orders.set(id, { id, status: 'pending' });
              pending.push(id);
              load.acked();
            }
          } else if (round % 4 === 2 && pending.length > 0) {
            // Cancelling puts the units back: into ShopCo's table, or through the service's API.
            const id = pending.shift() as number;
            const res = await send('PATCH', 'cancel', `/api/orders/${id}/status`, {
              token: me.token,
              body: { status: 'cancelled' },
            });
            if (res?.status === 200) {
              orders.set(id, { id, status: 'cancelled' });
              load.acked();
            }
          } else {
            await send('GET', 'read', `/api/products/${catalogue[(round * 5 + n) % catalogue.length]}`);
          }
          await pause();
        }
      };

    const merchant: Actor = async ({ send, stopped, pause }) => {
      const mine: number[] = [];
      let round = 0;
      while (!stopped()) {
        round++;
        if (mine.length === 0 || round % 4 === 0) {
          counter++;
          const input = {
            sku: `NEW-${process.pid}-${counter}`,
            name: `Merchant item ${counter}`,
            priceCents: 100 + counter,
            stock: counter % 50,
          };
          const res = await send('POST', 'create', '/api/products', { body: input });
          if (res?.status === 201) {
            const id = (res.body as { id: number }).id;
            products.set(id, { id, ...input });
            mine.push(id);
            load.acked();
          }
        } else if (round % 4 === 1) {
          const id = mine[round % mine.length] as number;
          const stock = (round * 13) % 200;
          const res = await send('PUT', 'inventory', `/api/products/${id}/inventory`, { body: { stock } });
          if (res?.status === 200) {
            const product = products.get(id);
            if (product) product.stock = stock;
            load.acked();
          }
        } else {
          // Its own products, right after writing them: read-your-writes keeps these on the write owner.
          await send('GET', 'read', `/api/products/${mine[round % mine.length]}`);
        }
        await pause();
      }
    };

    /** Readers of the catalogue: a new visitor (new cookies, so a new rollout bucket) every 10 requests. */
    const visitor =
      (n: number): Actor =>
      async ({ send, newSession, stopped, pause }) => {
        let round = 0;
        while (!stopped()) {
          round++;
          if (round % 10 === 0) newSession();
          if (round % 3 === 0) {
            await send('GET', 'search', `/api/products/search?q=${WORDS[(round + n) % WORDS.length]}&limit=50`);
          } else {
            await send('GET', 'read', `/api/products/${catalogue[(round * 7 + n) % catalogue.length]}`);
          }
          await pause();
        }
      };

    load.start([buyer(0), buyer(1), buyer(2), merchant, visitor(0), visitor(1)]);

    return {
      async landsInService(service: Knex) {
        const since = products.size;
        const deadline = Date.now() + 20_000;
        while (products.size < since + 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const newest = Math.max(...products.keys());
        expect(await service('products').where({ id: newest }).first()).toBeDefined();
      },

      async verify({ monolith: m, service: s }) {
        // Stock: nothing oversold, nothing lost, on either side.
        const taken = await m('order_items as i')
          .join('orders as o', 'o.id', 'i.order_id')
          .whereIn('o.status', ['pending', 'paid'])
          .whereIn('i.product_id', limited)
          .groupBy('i.product_id')
          .select('i.product_id as id')
          .sum<Array<{ id: number; units: string }>>('i.quantity as units');
        const units = new Map(taken.map((t) => [t.id, Number(t.units)]));
        const stockOf = async (knex: Knex) =>
          new Map(
            (
              (await knex('products').whereIn('id', limited).select('id', 'stock')) as Array<{
                id: number;
                stock: number;
              }>
            ).map((r) => [r.id, r.stock]),
          );
        const [inMonolith, inService] = await Promise.all([stockOf(m), stockOf(s)]);
        const books = limited.map((id, i) => ({
          id,
          sold: units.get(id) ?? 0,
          monolith: (LIMITED_STOCK[i] as number) - (inMonolith.get(id) ?? Number.NaN),
          service: (LIMITED_STOCK[i] as number) - (inService.get(id) ?? Number.NaN),
        }));
        expect(books).toEqual(books.map((b) => ({ ...b, monolith: b.sold, service: b.sold })));
        for (const id of limited) expect(inMonolith.get(id)).toBeGreaterThanOrEqual(0);
        // The buyers really fought over the last units of the small ones.
        expect(books.slice(0, 2).some((b) => b.sold >= (LIMITED_STOCK[0] as number) - 2)).toBe(true);
        // And while the service owned stock, orders reserved there and cancellations gave back through it.
        const bySource = await m('orders')
          .groupBy('stock_source')
          .select('stock_source')
          .count<Array<{ stock_source: string; n: string }>>('* as n');
        expect(Number(bySource.find((r) => r.stock_source === 'service')?.n ?? 0)).toBeGreaterThan(0);
        const reservations = await s('inventory_reservations')
          .groupBy('status')
          .select('status')
          .count<Array<{ status: string; n: string }>>('* as n');
        // Held: paid or pending orders; released: compensated checkouts and cancellations. (Returned, for orders
        // placed before the cutover and cancelled after it, shows up when the timing makes one.)
        expect(reservations.map((r) => r.status)).toEqual(expect.arrayContaining(['held', 'released']));

        // Every acknowledged product write, on both sides.
        const acked = [...products.values()];
        expect(acked.length).toBeGreaterThan(10);
        const ids = acked.map((p) => p.id);
        const [rowsM, rowsS] = await Promise.all([
          m('products').whereIn('id', ids).select('id', 'sku', 'name', 'price', 'stock'),
          s('products').whereIn('id', ids).select('id', 'sku', 'name', 'price_cents', 'stock'),
        ]);
        const byIdM = new Map(rowsM.map((r) => [r.id as number, r]));
        const byIdS = new Map(rowsS.map((r) => [r.id as number, r]));
        const lost: string[] = [];
        for (const p of acked) {
          const a = byIdM.get(p.id);
          const b = byIdS.get(p.id);
          if (a?.sku !== p.sku || a?.name !== p.name || a?.stock !== p.stock || a?.price !== centsText(p.priceCents)) {
            lost.push(`monolith ${p.id}`);
          }
          if (
            b?.sku !== p.sku ||
            b?.name !== p.name ||
            b?.stock !== p.stock ||
            Number(b?.price_cents) !== p.priceCents
          ) {
            lost.push(`service ${p.id}`);
          }
        }
        expect(lost).toEqual([]);

        // Every acknowledged order, as its last answer left it.
        const placed = (await m('orders')
          .whereIn('id', [...orders.keys()])
          .select('id', 'status')) as AckedOrder[];
        expect(new Map(placed.map((o) => [o.id, o.status]))).toEqual(
          new Map([...orders.values()].map((o) => [o.id, o.status])),
        );
        expect([...orders.values()].filter((o) => o.status === 'paid').length).toBeGreaterThan(5);
      },

      // Provoked on purpose: the last units are gone, or the card is the one the gateway declines.
      expected: (f: Failure) =>
        (f.status === 409 && f.code === 'ORDERS_INSUFFICIENT_STOCK') ||
        (f.status === 402 && f.code === 'PAYMENTS_DECLINED'),
    };
  },
};

function centsText(cents: number): string {
  return `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}
