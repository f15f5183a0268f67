import type { Knex } from '@strangler/foundation';
import type { Call } from '@strangler/foundation/testing';
import { joinName } from '@strangler/users-service/name';
import { expect } from 'vitest';
import type { JourneySpec, JourneyStack, Workload } from './journey.ts';
import type { Actor } from './load.ts';

/**
 * The users journey's workload: shoppers registering, updating their
 * profile, logging in, reading their account and placing orders in the
 * monolith that reference their user; visitors reading other people's
 * profiles and logging in to accounts made a while ago.
 */

const PASSWORD = 'correct horse battery';

interface AckedUser {
  id: number;
  email: string;
  /** The name of the last update that got a 2xx. */
  name: string;
  /** When the registration was acknowledged (ms since epoch). */
  at: number;
}

export const usersJourney: JourneySpec = {
  context: 'users',
  heldBy: '2 router(s)',
  fenceMembers: 2,
  monolithEnv: () => ({}),

  async seed(monolith) {
    // Users that exist before the extraction starts (the backfill copies them), and products to order.
    await monolith('users').insert(
      Array.from({ length: 40 }, (_, i) => ({
        email: `seeded.${i}@example.test`,
        full_name: i % 7 === 0 ? `Seeded${i}` : `Seeded User ${i}`,
        password_hash: 'scrypt$not-a-real-hash',
      })),
    );
    await monolith('products').insert(
      Array.from({ length: 5 }, (_, i) => ({
        sku: `JOURNEY-${i}`,
        name: `Journey product ${i}`,
        description: 'for the journey test',
        price: '9.99',
        stock: 1_000_000,
      })),
    );
  },

  async pendingWrite(call: Call) {
    const pending = await call('POST', '/api/users/register', {
      body: { email: `pending.${process.pid}.${Date.now()}@example.test`, password: PASSWORD, name: 'Pending Change' },
    });
    expect(pending.status).toBe(201);
  },

  async startLoad({ monolith, load }: JourneyStack): Promise<Workload> {
    const seededUserIds = (await monolith('users').orderBy('id').pluck('id')) as number[];
    const productIds = (await monolith('products').orderBy('id').pluck('id')) as number[];
    const users = new Map<number, AckedUser>();
    const orders: number[] = [];
    let counter = 0;

    const shopper =
      (n: number): Actor =>
      async ({ send, stopped, pause }) => {
        let mine: { id: number; email: string; token: string } | null = null;
        let round = 0;
        while (!stopped()) {
          round++;
          if (mine === null || round % 12 === 0) {
            counter++;
            const email = `journey.${process.pid}.${n}.${counter}@example.test`;
            const name = `Shopper ${n} No${counter}`;
            const registered = await send('POST', 'register', '/api/users/register', {
              body: { email, password: PASSWORD, name },
            });
            if (registered?.status === 201) {
              const id = (registered.body as { id: number }).id;
              users.set(id, { id, email, name, at: Date.now() });
              load.acked();
              const login = await send('POST', 'login', '/api/users/login', { body: { email, password: PASSWORD } });
              if (login?.status === 200) mine = { id, email, token: (login.body as { token: string }).token };
            }
          } else if (round % 3 === 0) {
            const name = `Shopper ${n} Rev${round}`;
            const updated = await send('PUT', 'update', `/api/users/${mine.id}`, { token: mine.token, body: { name } });
            if (updated?.status === 200) {
              const user = users.get(mine.id);
              if (user) user.name = name;
              load.acked();
            }
          } else if (round % 5 === 0) {
            // Orders stay in the monolith and reference users: its copy of users must be current.
            const ordered = await send('POST', 'order', '/api/orders', {
              token: mine.token,
              body: { userId: mine.id, items: [{ productId: productIds[round % productIds.length], quantity: 1 }] },
            });
            if (ordered?.status === 201) {
              orders.push((ordered.body as { id: number }).id);
              load.acked();
            }
          } else if (round % 2 === 0) {
            await send('POST', 'login', '/api/users/login', { body: { email: mine.email, password: PASSWORD } });
          } else {
            await send('GET', 'read', `/api/users/${mine.id}`);
          }
          await pause();
        }
      };

    /** A stream of visitors: a new one (new cookies, so a new rollout bucket) every 10 requests. */
    const visitor =
      (n: number): Actor =>
      async ({ send, newSession, stopped, pause }) => {
        let round = 0;
        while (!stopped()) {
          round++;
          if (round % 10 === 0) newSession();
          // Accounts made more than a minute ago: the visitor never raced their registration.
          const settled = [...users.values()].filter((u) => u.at < Date.now() - 60_000);
          const account = settled[(round * 13 + n) % Math.max(settled.length, 1)];
          if (round % 3 === 0 && account) {
            await send('POST', 'login', '/api/users/login', { body: { email: account.email, password: PASSWORD } });
          } else {
            await send('GET', 'read', `/api/users/${seededUserIds[(round * 7 + n) % seededUserIds.length]}`);
          }
          await pause();
        }
      };

    load.start([shopper(0), shopper(1), shopper(2), visitor(0), visitor(1)]);

    return {
      async landsInService(service: Knex) {
        const since = users.size;
        const deadline = Date.now() + 20_000;
        while (users.size < since + 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const newest = Math.max(...users.keys());
        expect(await service('users').where({ id: newest }).first()).toBeDefined();
      },

      async verify({ monolith: m, service: s }) {
        const acked = [...users.values()];
        expect(acked.length).toBeGreaterThan(20);
        const ids = acked.map((u) => u.id);
        const [inMonolith, inService] = await Promise.all([
          m('users').whereIn('id', ids).select('id', 'email', 'full_name'),
          s('users').whereIn('id', ids).select('id', 'email', 'first_name', 'last_name'),
        ]);
        const monolithById = new Map(inMonolith.map((r) => [r.id as number, r]));
        const serviceById = new Map(inService.map((r) => [r.id as number, r]));
        const lost: string[] = [];
        for (const user of acked) {
          const a = monolithById.get(user.id);
          const b = serviceById.get(user.id);
          if (a?.email !== user.email || a?.full_name !== user.name) lost.push(`monolith ${user.id}`);
          const serviceName = b ? joinName({ firstName: b.first_name, lastName: b.last_name }) : null;
          if (b?.email !== user.email || serviceName !== user.name) lost.push(`service ${user.id}`);
        }
        expect(lost).toEqual([]);
        expect(new Set(ids).size).toBe(ids.length);
        const placed = await m('orders').whereIn('id', orders).count<{ count: string }[]>('* as count');
        expect(Number(placed[0]?.count)).toBe(orders.length);
      },

      expected: () => false,
    };
  },
};
