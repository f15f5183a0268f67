import { randomUUID } from 'node:crypto';
import { createKnex, type Knex } from '@strangler/foundation';
import { freshDatabase, type TestDatabase, testServerUrls } from '@strangler/foundation/testing';
import { buildApp as buildUsersService } from '@strangler/users-service';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig as usersConfig } from '../../../extracted/users/src/config.ts';
import { buildApp as buildMonolith } from '../../../monolith/src/app.ts';
import { testConfig as monolithConfig } from '../../../monolith/src/config.ts';
import { usersForward, usersReverse } from '../../src/contexts/users.ts';
import {
  ApplyWorker,
  captureLag,
  installCapture,
  OutboxRelay,
  queueNameOf,
  queuePrefixOf,
  reconcile,
  runBackfill,
  type SyncChannel,
} from '../../src/sync/index.ts';

/**
 * The users extraction's data path with the real pieces: ShopCo and the users
 * service on their own databases, the users mappings, and the sync engine
 * (capture, relay, apply, backfill, reconcile) in both directions. What a user
 * sees must not depend on which side answers: every user read from the
 * service equals the monolith's answer, timestamps included.
 */

let monolithDb: TestDatabase;
let usersDb: TestDatabase;
let monolith: Awaited<ReturnType<typeof buildMonolith>>;
let service: Awaited<ReturnType<typeof buildUsersService>>;
let monolithUrl: string;
let serviceUrl: string;
let monolithKnex: Knex;
let usersKnex: Knex;
let forward: SyncChannel;
let reverse: SyncChannel;
const running: Array<{ stop(): Promise<unknown> }> = [];

async function call(base: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

async function startFlow(channel: SyncChannel): Promise<void> {
  const relay = new OutboxRelay(channel, { pollIntervalMs: 100 });
  const worker = new ApplyWorker(channel, { concurrency: 4 });
  await relay.start();
  await worker.start();
  running.push({ stop: () => relay.stop() }, { stop: () => worker.close() });
}

async function drained(channel: SyncChannel): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const lag = await captureLag(channel);
    if (lag.unappliedRows === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${channel.name} did not drain`);
}

async function sameOnBothSides(ids: number[]): Promise<void> {
  for (const id of ids) {
    const [m, s] = await Promise.all([
      call(monolithUrl, 'GET', `/api/users/${id}`),
      call(serviceUrl, 'GET', `/api/users/${id}`),
    ]);
    expect(s).toEqual(m);
  }
}

beforeAll(async () => {
  [monolithDb, usersDb] = await Promise.all([freshDatabase('monolith'), freshDatabase('users')]);
  monolith = await buildMonolith(monolithConfig({ DATABASE_URL: monolithDb.url }));
  service = await buildUsersService(usersConfig({ DATABASE_URL: usersDb.url }));
  monolithUrl = await monolith.listen({ host: '127.0.0.1', port: 0 });
  serviceUrl = await service.listen({ host: '127.0.0.1', port: 0 });
  monolithKnex = createKnex({ url: monolithDb.url });
  usersKnex = createKnex({ url: usersDb.url });
  const queuePrefix = `test-users-sync-${randomUUID().slice(0, 8)}`;
  const common = { redisUrl: testServerUrls().redisUrl, queuePrefix };
  forward = {
    name: 'users-forward',
    direction: 'forward',
    sourceUrl: monolithDb.url,
    targetUrl: usersDb.url,
    mappings: [usersForward],
    ...common,
  };
  reverse = {
    name: 'users-reverse',
    direction: 'reverse',
    sourceUrl: usersDb.url,
    targetUrl: monolithDb.url,
    mappings: [usersReverse],
    ...common,
  };
}, 60_000);

afterAll(async () => {
  for (const r of running.reverse()) await r.stop().catch(() => {});
  for (const channel of [forward, reverse]) {
    if (!channel) continue;
    const queue = new Queue(queueNameOf(channel), {
      connection: { url: channel.redisUrl },
      prefix: queuePrefixOf(channel),
    });
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
  await monolith?.close();
  await service?.close();
  await monolithKnex?.destroy();
  await usersKnex?.destroy();
  await Promise.all([monolithDb?.drop(), usersDb?.drop()]);
});

describe('the users extraction, data path', () => {
  const ids: number[] = [];

  it('backfills the users that existed before capture, then streams every new change', async () => {
    for (const [i, name] of ['Ada Lovelace', 'Grace Brewster Murray Hopper', 'Linus', 'Zoë  Two  Spaces'].entries()) {
      const res = await call(monolithUrl, 'POST', '/api/users/register', {
        email: `Early${i}@Example.com`,
        password: 'password123',
        name,
      });
      ids.push(res.body?.id as number);
    }
    await installCapture(monolithKnex, forward);
    await startFlow(forward);
    const backfill = await runBackfill(forward, { batchSize: 2 });
    expect(backfill.tables[0]?.rows).toBe(4);

    const late = await call(monolithUrl, 'POST', '/api/users/register', {
      email: 'late@example.com',
      password: 'password123',
      name: 'Late Comer',
    });
    ids.push(late.body?.id as number);
    const login = await call(monolithUrl, 'POST', '/api/users/login', {
      email: 'late@example.com',
      password: 'password123',
    });
    const token = login.body?.token as string;
    await call(monolithUrl, 'PUT', `/api/users/${ids[4]}`, { name: 'Late But Renamed' }, token);

    await drained(forward);
    expect((await reconcile(forward)).drift).toBe(0);
    await sameOnBothSides(ids);
  });

  it('lets a user log in at the service with the password set at the monolith', async () => {
    const res = await call(serviceUrl, 'POST', '/api/users/login', {
      email: 'early1@example.com',
      password: 'password123',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { name: 'Grace Brewster Murray Hopper' } });
  });

  it('runs both directions at once without loops, and service writes reach the monolith', async () => {
    await installCapture(usersKnex, reverse);
    await startFlow(reverse);
    const login = await call(monolithUrl, 'POST', '/api/users/login', {
      email: 'early0@example.com',
      password: 'password123',
    });
    const token = login.body?.token as string;

    // A write at the service (as after the cutover) flows back to the monolith...
    const renamed = await call(serviceUrl, 'PUT', `/api/users/${ids[0]}`, { name: 'Ada King Lovelace' }, token);
    expect(renamed.status).toBe(200);
    // ...and a write at the monolith still flows forward.
    await call(monolithUrl, 'PUT', `/api/users/${ids[1]}`, { email: 'grace@navy.example' }, token).then((r) =>
      expect(r.status).toBe(403),
    );
    const graceToken = (
      await call(monolithUrl, 'POST', '/api/users/login', { email: 'early1@example.com', password: 'password123' })
    ).body?.token as string;
    await call(monolithUrl, 'PUT', `/api/users/${ids[1]}`, { email: 'grace@navy.example' }, graceToken);

    await drained(reverse);
    await drained(forward);
    await sameOnBothSides(ids);
    expect((await call(monolithUrl, 'GET', `/api/users/${ids[0]}`)).body?.name).toBe('Ada King Lovelace');
    expect((await call(serviceUrl, 'GET', `/api/users/${ids[1]}`)).body?.email).toBe('grace@navy.example');

    // No loops: each side's outbox holds only the changes made there, none of the applied ones.
    const countOutbox = async (knex: Knex) => Number((await knex('strangler_outbox').count('* as n'))[0]?.n);
    expect(await countOutbox(usersKnex)).toBe(1);
    const monolithChanges = await countOutbox(monolithKnex);
    await new Promise((r) => setTimeout(r, 300));
    expect(await countOutbox(monolithKnex)).toBe(monolithChanges);

    expect((await reconcile(forward)).drift).toBe(0);
    expect((await reconcile(reverse)).drift).toBe(0);
  });
});
