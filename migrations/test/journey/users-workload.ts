import type { Knex } from '@strangler/foundation';
import type { Call } from '@strangler/foundation/testing';
import { joinName } from '@strangler/users-service/name';
import { expect } from 'vitest';
import type { JourneySpec, JourneyStack, Workload } from './journey.ts';
import type { Actor, Answer, LoadGenerator } from './load.ts';

/**
 * The users journey's workload: shoppers registering, updating their
 * profile, logging in, reading their account and placing orders in the
 * monolith that reference their user; visitors reading other people's
 * profiles and logging in to accounts made a while ago.
 */

const PASSWORD = 'correct horse battery';

/**
 * From `writes` on a new account is created by the service, and ShopCo's
 * orders see it once the reverse sync has carried it over (ADR 0012). A
 * shopper's first orders within this long of signing up at the service are
 * sent under their own route name: a 404 USERS_NOT_FOUND there is that lag,
 * documented, and the shopper orders again later, as a client retries.
 */
const REVERSE_SYNC_ALLOWANCE_MS = 10_000;
const ORDER_BY_NEW_SERVICE_USER = 'order (account new at the service)';

/**
 * 503s that promise the write was not applied anywhere (docs/errors.md): the
 * router could not reach the write's owner, held it past its bound, or was
 * closing (Fastify's own 503 then has no code).
 */
const NOT_APPLIED_CODES = new Set(['ROUTER_UPSTREAM_UNAVAILABLE', 'ROUTER_WRITES_HELD', undefined]);

/** What a write's answer proves about it. */
export type WriteOutcome = 'acked' | 'not-applied' | 'unknown' | 'refused-4xx';

export function writeOutcome(answer: Answer | null, connectionRefused: boolean): WriteOutcome {
  if (answer === null) return connectionRefused ? 'not-applied' : 'unknown';
  if (answer.status < 300) return 'acked';
  if (answer.status < 500) return 'refused-4xx';
  const code = (answer.body as { error?: { code?: string } } | null)?.error?.code;
  return answer.status === 503 && NOT_APPLIED_CODES.has(code) ? 'not-applied' : 'unknown';
}

interface Registration {
  email: string;
  name: string;
  outcome: WriteOutcome;
  /** Once acknowledged. */
  id?: number;
  /** When the registration was acknowledged (ms since epoch). */
  at?: number;
  /** Every name the account may hold now: the last acknowledged one, and later ones whose outcome is unknown. */
  names: Set<string>;
}

/** What the databases show about the acknowledged and refused writes. */
export interface UsersAudit {
  /** Writes that got a 2xx. */
  acked: number;
  /** Acknowledged writes missing (or older) in a database, as "monolith 12", "service 12 name". */
  lost: string[];
  /** Writes that are in one database and not the other, or that were refused and are there anyway. */
  halfApplied: string[];
  /** Writes with an unknown outcome (the connection broke after sending, a 5xx that may have committed). */
  unknown: number;
}

export interface UsersWorkload extends Workload {
  audit(dbs: { monolith: Knex; service: Knex }): Promise<UsersAudit>;
  /** The registrations that got a 2xx so far. */
  accounts(): Account[];
}

export interface UsersLoadOptions {
  /** Shoppers register, update, order and log in; default 3. */
  shoppers?: number;
  /** Visitors read profiles and log in to older accounts; default 2. */
  visitors?: number;
  /** Accounts made earlier (by an earlier load), long synced: visitors read them and log in to them too. */
  accounts?: readonly Account[];
}

/** An acknowledged registration: what a visitor needs to read it and log in. */
export interface Account {
  id: number;
  email: string;
}

/** Starts the users workload's clients on `load`; what it was acknowledged is checked with `audit`. */
export async function startUsersLoad(
  monolith: Knex,
  load: LoadGenerator,
  opts: UsersLoadOptions = {},
): Promise<UsersWorkload> {
  const seededUserIds = (await monolith('users').orderBy('id').limit(200).pluck('id')) as number[];
  const productIds = (await monolith('products').orderBy('id').pluck('id')) as number[];
  const given = opts.accounts ?? [];
  const registrations: Registration[] = [];
  const users = new Map<number, Registration>();
  const orders: number[] = [];
  let unknownOrders = 0;
  let counter = 0;

  const shopper =
    (n: number): Actor =>
    async ({ send, stopped, pause, lastNetworkFailure }) => {
      const refusedBeforeSending = (answer: Answer | null) => answer === null && lastNetworkFailure() === 'refused';
      let mine: { id: number; email: string; token: string; atService: number | null } | null = null;
      let round = 0;
      while (!stopped()) {
        round++;
        if (mine === null || round % 12 === 0) {
          counter++;
          const email = `journey.${process.pid}.${Date.now()}.${n}.${counter}@example.test`;
          const name = `Shopper ${n} No${counter}`;
          const registered = await send('POST', 'register', '/api/users/register', {
            body: { email, password: PASSWORD, name },
          });
          const registration: Registration = {
            email,
            name,
            outcome: writeOutcome(registered, refusedBeforeSending(registered)),
            names: new Set([name]),
          };
          registrations.push(registration);
          if (registered?.status === 201) {
            const id = (registered.body as { id: number }).id;
            Object.assign(registration, { id, at: Date.now() });
            users.set(id, registration);
            load.acked();
            const login = await send('POST', 'login', '/api/users/login', { body: { email, password: PASSWORD } });
            const atService = registered.headers.get('x-strangler-target') === 'service' ? Date.now() : null;
            if (login?.status === 200) mine = { id, email, token: (login.body as { token: string }).token, atService };
          }
        } else if (round % 3 === 0) {
          const name = `Shopper ${n} Rev${round}`;
          const updated = await send('PUT', 'update', `/api/users/${mine.id}`, { token: mine.token, body: { name } });
          const user = users.get(mine.id);
          const outcome = writeOutcome(updated, refusedBeforeSending(updated));
          if (user && outcome === 'acked') {
            user.name = name;
            user.names = new Set([name]);
            load.acked();
          } else if (user && outcome === 'unknown') {
            user.names.add(name);
          }
        } else if (round % 5 === 0) {
          // Orders stay in the monolith and reference users: its copy of users must be current.
          const fresh = mine.atService !== null && Date.now() - mine.atService < REVERSE_SYNC_ALLOWANCE_MS;
          const ordered = await send('POST', fresh ? ORDER_BY_NEW_SERVICE_USER : 'order', '/api/orders', {
            token: mine.token,
            body: { userId: mine.id, items: [{ productId: productIds[round % productIds.length], quantity: 1 }] },
          });
          if (ordered?.status === 201) {
            orders.push((ordered.body as { id: number }).id);
            load.acked();
          } else if (writeOutcome(ordered, refusedBeforeSending(ordered)) === 'unknown') {
            unknownOrders++;
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
        // Accounts made more than a minute ago, or given: the visitor never raced their registration.
        const settled: Account[] = [
          ...given,
          ...[...users.values()]
            .filter((u) => (u.at ?? Date.now()) < Date.now() - 60_000)
            .map((u) => ({ id: u.id as number, email: u.email })),
        ];
        const account = settled[(round * 13 + n) % Math.max(settled.length, 1)];
        // A login costs the server a password hash: one visit in five is one.
        if (round % 5 === 0 && account) {
          await send('POST', 'login', '/api/users/login', { body: { email: account.email, password: PASSWORD } });
        } else if (round % 5 <= 2 && account) {
          await send('GET', 'read', `/api/users/${account.id}`);
        } else {
          await send('GET', 'read', `/api/users/${seededUserIds[(round * 7 + n) % seededUserIds.length]}`);
        }
        await pause();
      }
    };

  load.start([
    ...Array.from({ length: opts.shoppers ?? 3 }, (_, i) => shopper(i)),
    ...Array.from({ length: opts.visitors ?? 2 }, (_, i) => visitor(i)),
  ]);

  async function audit({ monolith: m, service: s }: { monolith: Knex; service: Knex }): Promise<UsersAudit> {
    const emails = registrations.map((r) => r.email);
    const [inMonolith, inService] = await Promise.all([
      m('users').whereIn('email', emails).select('id', 'email', 'full_name'),
      s('users').whereIn('email', emails).select('id', 'email', 'first_name', 'last_name'),
    ]);
    const monolithByEmail = new Map(inMonolith.map((r) => [r.email as string, r]));
    const serviceByEmail = new Map(inService.map((r) => [r.email as string, r]));
    const lost: string[] = [];
    const halfApplied: string[] = [];
    let unknown = unknownOrders;
    for (const r of registrations) {
      const a = monolithByEmail.get(r.email);
      const b = serviceByEmail.get(r.email);
      const serviceName = b ? joinName({ firstName: b.first_name, lastName: b.last_name }) : undefined;
      if (r.outcome === 'acked') {
        if (a?.id !== r.id) lost.push(`monolith ${r.id}`);
        else if (!r.names.has(a.full_name)) lost.push(`monolith ${r.id} name`);
        if (b?.id !== r.id) lost.push(`service ${r.id}`);
        else if (!r.names.has(serviceName as string)) lost.push(`service ${r.id} name`);
        if (r.names.size > 1) unknown += r.names.size - 1;
      } else {
        if (r.outcome === 'unknown') unknown++;
        if ((a === undefined) !== (b === undefined)) {
          halfApplied.push(`${r.email} (${r.outcome}) in ${a ? 'the monolith' : 'the service'} only`);
        } else if (a && r.outcome !== 'unknown') {
          halfApplied.push(`${r.email} (${r.outcome}) is registered although it was refused`);
        }
      }
    }
    const placed = await m('orders').whereIn('id', orders).count<{ count: string }[]>('* as count');
    const missingOrders = orders.length - Number(placed[0]?.count);
    if (missingOrders > 0) lost.push(`${missingOrders} acknowledged order(s) in the monolith`);
    return { acked: load.report.ackedWrites, lost, halfApplied, unknown };
  }

  return {
    audit,
    accounts: () => [...users.values()].map((u) => ({ id: u.id as number, email: u.email })),

    async landsInService(service: Knex) {
      const since = users.size;
      const deadline = Date.now() + 20_000;
      while (users.size < since + 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const newest = Math.max(...users.keys());
      expect(await service('users').where({ id: newest }).first()).toBeDefined();
    },

    async verify(dbs) {
      expect(users.size).toBeGreaterThan(20);
      const result = await audit(dbs);
      expect(result.lost).toEqual([]);
      expect(result.halfApplied).toEqual([]);
      const ids = [...users.keys()];
      expect(new Set(ids).size).toBe(ids.length);
    },

    expected: (f) => f.route === ORDER_BY_NEW_SERVICE_USER && f.status === 404 && f.code === 'USERS_NOT_FOUND',
  };
}

export const usersJourney: JourneySpec = {
  context: 'users',
  heldBy: '2 router(s)',
  fenceMembers: 2,
  monolithEnv: () => ({}),
  seed: seedUsers,
  // Several processes of each kind, as a deployment runs them: they coordinate through Postgres and Redis only.
  workers: { relay: 2, apply: 2 },
  guardedRollout: true,

  async pendingWrite(call: Call) {
    const pending = await call('POST', '/api/users/register', {
      body: { email: `pending.${process.pid}.${Date.now()}@example.test`, password: PASSWORD, name: 'Pending Change' },
    });
    expect(pending.status).toBe(201);
  },

  startLoad: ({ monolith, load }: JourneyStack) => startUsersLoad(monolith, load),
};

/** Users that exist before the extraction starts (the backfill copies them), and products to order. */
export async function seedUsers(monolith: Knex, count = 40): Promise<void> {
  // In one statement: the chaos suite seeds enough rows for a backfill that lasts a while.
  await monolith.raw(
    `insert into users (email, full_name, password_hash)
     select 'seeded.' || i || '@example.test',
            case when i % 7 = 0 then 'Seeded' || i else 'Seeded User ' || i end,
            'scrypt$not-a-real-hash'
     from generate_series(0, ? - 1) as i`,
    [count],
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
}
