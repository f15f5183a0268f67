import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createFlagClient, type FlagClient, UnleashAdminApi } from '@strangler/flags';
import { createKnex, createRedis, readTrafficWindow } from '@strangler/foundation';
import { freshDatabase, lockFlags, type TestDatabase } from '@strangler/foundation/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp as buildMonolith } from '../../monolith/src/app.ts';
import { testConfig as monolithConfig } from '../../monolith/src/config.ts';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

/**
 * The router between real servers over real HTTP: ShopCo on its database, a
 * stand-in users service (ShopCo's code on a second database holding the
 * same users), the run's Unleash, and flag changes made through `pnpm flags`.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const ADMIN_TOKEN = 'router-test-admin-token-0123456789';
const REFRESH_MS = 100;
const TRAFFIC_PREFIX = `test:router:${process.pid}:${Date.now()}`;

let release: () => Promise<void>;
let admin: UnleashAdminApi;
let monolithDb: TestDatabase;
let serviceDb: TestDatabase;
let monolith: FastifyInstance;
let service: FastifyInstance;
let serviceUrl: string;
let flags: FlagClient;
let unleashGate: TcpGate;
let router: FastifyInstance;
let base: string;
let token: string;
let userId: number;

/** A TCP relay in front of Unleash that the test can cut, to play "Unleash is down". */
interface TcpGate {
  url: string;
  close(): Promise<void>;
}

async function tcpGate(target: URL): Promise<TcpGate> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function pnpmFlags(...args: string[]): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'flags/src/cli.ts'), ...args], {
    env: { ...process.env, UNLEASH_URL: inject('unleashUrl'), UNLEASH_ADMIN_TOKEN: inject('unleashAdminToken') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += String(c)));
  child.stderr.on('data', (c) => (out += String(c)));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`pnpm flags ${args.join(' ')} failed (${code}): ${out}`);
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field in assertions.
type Json = any;

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { headers });
  return {
    status: res.status,
    target: res.headers.get('x-strangler-target'),
    body: (await res.json()) as Json,
    headers: res.headers,
  };
}

async function send(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    target: res.headers.get('x-strangler-target'),
    body: (text ? JSON.parse(text) : null) as Json,
  };
}

/** Sends the request line exactly as given, with no client-side URL clean-up. */
async function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(base);
  const socket = tcpConnect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.end(`GET ${path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
  let raw = '';
  for await (const chunk of socket) raw += String(chunk);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
  return { status, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
}

async function resetFlags(): Promise<void> {
  await admin.killSwitch(false);
  // Enabled at 0 %: the rollout % alone then moves traffic.
  for (const kind of ['shadow', 'reads', 'writes'] as const) {
    await admin.setRollout(`users.${kind}`, 0);
    await admin.enable(`users.${kind}`);
  }
}

/** Copies the monolith's users into the stand-in service's database, ids and timestamps included. */
async function syncUsers(): Promise<void> {
  const from = createKnex({ url: monolithDb.url });
  const to = createKnex({ url: serviceDb.url });
  try {
    const rows = await from('users').select('*');
    await to('users').insert(rows).onConflict('id').merge();
    await to.raw("SELECT setval('users_id_seq', (SELECT max(id) FROM users))");
  } finally {
    await from.destroy();
    await to.destroy();
  }
}

beforeAll(async () => {
  release = await lockFlags();
  admin = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
  await admin.ensureFlags();
  await resetFlags();
  [monolithDb, serviceDb] = await Promise.all([freshDatabase('monolith'), freshDatabase('monolith')]);
  monolith = await buildMonolith(monolithConfig({ DATABASE_URL: monolithDb.url }));
  service = await buildMonolith(monolithConfig({ DATABASE_URL: serviceDb.url }));
  const monolithUrl = await monolith.listen({ host: '127.0.0.1', port: 0 });
  serviceUrl = await service.listen({ host: '127.0.0.1', port: 0 });
  unleashGate = await tcpGate(new URL(inject('unleashUrl')));
  flags = createFlagClient({
    url: unleashGate.url,
    clientToken: inject('unleashClientToken'),
    refreshMs: REFRESH_MS,
    backupPath: join(mkdtempSync(join(tmpdir(), 'strangler-flags-')), 'backup.json'),
  });
  expect(await flags.whenFresh(5_000)).toBe(true);
  router = await buildApp(
    testConfig({
      MONOLITH_URL: monolithUrl,
      USERS_SERVICE_URL: serviceUrl,
      ADMIN_TOKEN,
      // Generous: under a loaded test run a slow answer must not open the breaker and turn reads into fallbacks.
      SERVICE_TIMEOUT_MS: '2000',
      BREAKER_FAILURES: '3',
      BREAKER_COOLDOWN_MS: '60000',
      BODY_LIMIT_BYTES: '2048',
      REDIS_URL: inject('redisUrl'),
      TRAFFIC_KEY_PREFIX: TRAFFIC_PREFIX,
    }),
    // Declared noise for this test: a service may stamp its own updatedAt.
    { flags, noise: { 'GET /api/users/:id': { ignore: ['updatedAt'] } } },
  );
  base = await router.listen({ host: '127.0.0.1', port: 0 });

  const registered = await send('POST', '/api/users/register', {
    email: 'router@example.com',
    password: 'password123',
    name: 'Router Tester',
  });
  userId = registered.body.id;
  token = (await send('POST', '/api/users/login', { email: 'router@example.com', password: 'password123' })).body.token;
  for (let i = 0; i < 5; i++) {
    await send('POST', '/api/users/register', {
      email: `more${i}@example.com`,
      password: 'password123',
      name: `M ${i}`,
    });
  }
  await syncUsers();
}, 60_000);

afterAll(async () => {
  if (admin) await resetFlags().catch(() => {});
  await router?.close();
  await flags?.close();
  await unleashGate?.close();
  await monolith?.close();
  await service?.close();
  await Promise.all([monolithDb?.drop(), serviceDb?.drop()]);
  await release?.();
});

describe('with every flag off', () => {
  it('sends every route to the monolith, and unknown paths too', async () => {
    expect((await get(`/api/users/${userId}`)).target).toBe('monolith');
    const unknown = await get('/api/nothing');
    expect(unknown.status).toBe(404);
    expect(unknown.target).toBe('monolith');
    expect(unknown.body.error.code).toBe('NOT_FOUND');
  });
});

describe('a flag change through pnpm flags', () => {
  it('moves reads to the service within a refresh, and never writes', async () => {
    await pnpmFlags('set', 'users.reads', '100');
    await until('reads on the service', async () =>
      (await get(`/api/users/${userId}`)).target === 'service' ? true : undefined,
    );
    const write = await send(
      'PUT',
      `/api/users/${userId}`,
      { name: 'Renamed Via Router' },
      { authorization: `Bearer ${token}` },
    );
    expect(write.status).toBe(200);
    expect(write.target).toBe('monolith');
    await pnpmFlags('set', 'users.reads', '0');
    await until('reads back on the monolith', async () =>
      (await get(`/api/users/${userId}`)).target === 'monolith' ? true : undefined,
    );
    await syncUsers();
  });

  it('keeps every visitor on their side and only adds visitors as the rollout rises', async () => {
    await admin.setRollout('users.reads', 10);
    await until('10 % rollout', async () => (flags.snapshot().contexts.users.readPercent === 10 ? true : undefined));
    // 1,000 visitors, 50 at a time: each gets a session cookie and keeps their side.
    const visitors: Array<{ cookie: string; at10: string }> = [];
    const inBatches = async <T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> => {
      const out: T[] = [];
      for (let i = 0; i < n; i += 50) {
        out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => fn(i + j)))));
      }
      return out;
    };
    visitors.push(
      ...(await inBatches(1000, async () => {
        const first = await get(`/api/users/${userId}`);
        const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] as string;
        expect(cookie).toMatch(/^strangler_sid=/);
        const again = await get(`/api/users/${userId}`, { cookie });
        expect(again.target).toBe(first.target);
        return { cookie, at10: first.target as string };
      })),
    );
    await admin.setRollout('users.reads', 50);
    await until('50 % rollout', async () => (flags.snapshot().contexts.users.readPercent === 50 ? true : undefined));
    const at50 = await inBatches(1000, async (i) => {
      const v = visitors[i] as { cookie: string; at10: string };
      return { ...v, now: (await get(`/api/users/${userId}`, { cookie: v.cookie })).target };
    });
    const movedBack = at50.filter((v) => v.at10 === 'service' && v.now !== 'service');
    expect(movedBack).toEqual([]);
    const at10Count = visitors.filter((v) => v.at10 === 'service').length;
    const at50Count = at50.filter((v) => v.now === 'service').length;
    expect(at10Count).toBeGreaterThan(60);
    expect(at10Count).toBeLessThan(140);
    expect(at50Count).toBeGreaterThan(440);
    expect(at50Count).toBeLessThan(560);
    await admin.setRollout('users.reads', 0);
  });

  it('sends everything back to the monolith with the kill switch', async () => {
    await admin.setRollout('users.reads', 100);
    await until('reads on the service', async () =>
      (await get(`/api/users/${userId}`)).target === 'service' ? true : undefined,
    );
    await pnpmFlags('kill');
    await until('kill switch', async () =>
      (await get(`/api/users/${userId}`)).target === 'monolith' ? true : undefined,
    );
    await pnpmFlags('unkill');
    await admin.setRollout('users.reads', 0);
  });
});

describe('shadow', () => {
  it('serves the monolith, mirrors reads to the service, and records mismatches with their paths', async () => {
    await admin.setRollout('users.shadow', 100);
    await until('shadow on', async () => (flags.snapshot().contexts.users.shadowPercent === 100 ? true : undefined));
    const knex = createKnex({ url: serviceDb.url });
    try {
      await knex('users').where({ id: userId }).update({ full_name: 'Drifted In Service' });
    } finally {
      await knex.destroy();
    }
    const res = await get(`/api/users/${userId}`);
    expect(res.target).toBe('monolith');
    expect(res.body.name).not.toBe('Drifted In Service');
    const mismatch = await until('a recorded mismatch', async () => {
      const shadow = await fetch(`${base}/_strangler/api/shadow`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const body = (await shadow.json()) as { recentMismatches: Array<{ route: string; paths: string[] }> };
      return body.recentMismatches.find((m) => m.route === 'GET /api/users/:id');
    });
    expect(mismatch.paths).toEqual(['name']);
    await syncUsers();
    const other = await get('/api/users/3');
    expect(other.target).toBe('monolith');
    const metrics = await until('a shadow match in the metrics', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return /router_shadow_total\{[^}]*route="GET \/api\/users\/:id"[^}]*result="match"[^}]*\} [1-9]/.test(text)
        ? text
        : undefined;
    });
    expect(metrics).toMatch(/result="mismatch"/);
    await admin.setRollout('users.shadow', 0);
  });

  it('does not count a difference in a declared noise field as a mismatch', async () => {
    await admin.setRollout('users.shadow', 100);
    await until('shadow on', async () => (flags.snapshot().contexts.users.shadowPercent === 100 ? true : undefined));
    const knex = createKnex({ url: serviceDb.url });
    try {
      await knex('users')
        .where({ id: 4 })
        .update({ updated_at: new Date('2031-01-01T00:00:00Z') });
    } finally {
      await knex.destroy();
    }
    const shadowStats = async () => {
      const res = await fetch(`${base}/_strangler/api/shadow`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return (await res.json()) as {
        stats: Record<string, { matches: number; mismatches: number }>;
        recentMismatches: Array<{ paths: string[]; requestId: string }>;
      };
    };
    const before = (await shadowStats()).stats['GET /api/users/:id'] ?? { matches: 0, mismatches: 0 };
    expect((await get('/api/users/4')).target).toBe('monolith');
    const after = await until('the comparison', async () => {
      const s = (await shadowStats()).stats['GET /api/users/:id'];
      return s && s.matches + s.mismatches > before.matches + before.mismatches ? s : undefined;
    });
    expect(after.matches).toBe(before.matches + 1);
    expect(after.mismatches).toBe(before.mismatches);
    await admin.setRollout('users.shadow', 0);
    await syncUsers();
  });

  it('never mirrors a write', async () => {
    await admin.setRollout('users.shadow', 100);
    await until('shadow on', async () => (flags.snapshot().contexts.users.shadowPercent === 100 ? true : undefined));
    const before = await createKnex({ url: serviceDb.url });
    try {
      const count = async () => Number((await before('users').count('* as n'))[0]?.n);
      const n = await count();
      const res = await send('POST', '/api/users/register', {
        email: 'only-once@example.com',
        password: 'password123',
        name: 'Once',
      });
      expect(res.status).toBe(201);
      await new Promise((r) => setTimeout(r, 300));
      expect(await count()).toBe(n);
    } finally {
      await before.destroy();
      await admin.setRollout('users.shadow', 0);
      await syncUsers();
    }
  });
});

describe('when Unleash is away', () => {
  it('keeps routing with the last flags it knew, and says it is stale', async () => {
    await admin.setRollout('users.reads', 100);
    await admin.setRollout('users.writes', 100);
    await until('users on the service', async () =>
      flags.snapshot().contexts.users.writeOwner === 'service' ? true : undefined,
    );
    await unleashGate.close();
    await until('stale flags', async () => (flags.state().kind === 'stale' ? true : undefined), 5_000);
    expect((await get(`/api/users/${userId}`)).target).toBe('service');
    const write = await send(
      'PUT',
      `/api/users/${userId}`,
      { name: 'Written To Service' },
      { authorization: `Bearer ${token}` },
    );
    expect(write).toMatchObject({ status: 200, target: 'service' });
    const routes = await fetch(`${base}/_strangler/api/routes`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(((await routes.json()) as { flagClient: { kind: string } }).flagClient.kind).toBe('stale');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('router_flag_client_state{state="stale",service="edge-router"} 1');
    // Still ready: it routes by the last flags; /ready says how old they are.
    const ready = await get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.flags).toMatch(/stale/);
  });
});

describe('when the service dies', () => {
  it('answers reads from the monolith, and fails writes fast with 503 without sending them anywhere else', async () => {
    await service.close();
    const read = await get(`/api/users/${userId}`);
    expect(read.status).toBe(200);
    expect(read.target).toBe('monolith');
    expect(read.body.id).toBe(userId);

    const before = (await get(`/api/users/${userId}`)).body.name;
    for (let i = 0; i < 5; i++) {
      const write = await send(
        'PUT',
        `/api/users/${userId}`,
        { name: `Lost ${i}` },
        { authorization: `Bearer ${token}` },
      );
      expect(write.status).toBe(503);
      expect(write.body.error.code).toBe('ROUTER_UPSTREAM_UNAVAILABLE');
    }
    // The monolith never saw them: writes have one owner.
    expect((await get(`/api/users/${userId}`)).body.name).toBe(before);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/router_fallbacks_total\{context="users",reason="unavailable"[^}]*\} [1-9]/);
    expect(metrics).toContain('router_breaker_state{upstream="users-service",service="edge-router"} 2');

    // Shared with other processes through Redis: the service's failures and the shadow results.
    const redis = createRedis({ url: inject('redisUrl'), role: 'client' });
    try {
      const window = await until('traffic counts in Redis', async () => {
        const w = await readTrafficWindow(redis, 'users', 600, { prefix: TRAFFIC_PREFIX });
        return w.service.errors >= 6 ? w : undefined;
      });
      expect(window.service.requests).toBeGreaterThan(window.service.errors);
      expect(window.monolith.requests).toBeGreaterThan(0);
      expect(window.shadow.match).toBeGreaterThan(0);
      expect(window.shadow.mismatch).toBeGreaterThan(0);
      // Reads apart, for the guarded rollout: the five writes the service refused are not among them.
      expect(window.reads.service.errors).toBeGreaterThan(0);
      expect(window.service.errors - window.reads.service.errors).toBeGreaterThanOrEqual(5);
    } finally {
      redis.disconnect();
    }
  });
});

describe('hostile requests', () => {
  it.each([
    '/api/users%2F1',
    '/api/products/..%2Fusers/1',
    '/api/products/%2e%2e/users/1',
    '/api//users/1',
    '/api/users/1%00',
    '/api/users/%C0%AE%C0%AE',
  ])('refuses the ambiguous path %s with 400 before any upstream sees it', async (path) => {
    // Raw HTTP: fetch would resolve dot segments itself before sending.
    const { status, body } = await rawGet(path);
    expect(status).toBe(400);
    expect(['ROUTER_AMBIGUOUS_PATH', 'INVALID_URL']).toContain(JSON.parse(body).error.code);
  });

  it('answers 431 for headers over the limit, and keeps serving', async () => {
    const res = await fetch(`${base}/api/users/1`, { headers: { 'x-padding': 'x'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect((await get('/health')).status).toBe(200);
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await send('POST', '/api/users/register', {
      email: 'big@example.com',
      password: 'x'.repeat(4096),
      name: 'Big',
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses the admin API without the token or with a wrong one', async () => {
    expect((await fetch(`${base}/_strangler/api/routes`)).status).toBe(401);
    const wrong = await fetch(`${base}/_strangler/api/routes`, {
      headers: { authorization: 'Bearer nope-nope-nope-nope' },
    });
    expect(wrong.status).toBe(401);
  });
});
