import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { MONOLITH_ONLY, staticFlagSource } from '@strangler/flags';
import { createLogger, hashPassword } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { loadConfig, testConfig } from '../src/config.ts';
import { dashboardSession } from '../src/dashboard/routes.ts';

/**
 * The router's security guarantees (docs/security.md): the admin API and the
 * dashboard exist only with ADMIN_TOKEN and refuse every wrong credential on
 * every route, with the error contract; password hashes never reach its logs
 * or its shadow diffs.
 */

const TOKEN = 'Router-Admin-Token-0123456789';

interface Upstream {
  server: Server;
  url: string;
  seen: Array<{ method: string; url: string }>;
}

async function upstream(answer: (req: IncomingMessage) => { status: number; body: unknown }): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    req.on('end', () => {
      const { status, body } = answer(req);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function logSink(): { sink: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    sink: new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    text: () => chunks.join(''),
  };
}

async function body(res: Response): Promise<{ error?: { code: string; message: string } } & Record<string, unknown>> {
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

/** Every route of the admin API and the dashboard, with a body where it takes one. */
const ADMIN_ROUTES: ReadonlyArray<{ method: string; path: string; body?: unknown }> = [
  { method: 'GET', path: '/_strangler/api/routes' },
  { method: 'GET', path: '/_strangler/api/routes?user=7' },
  { method: 'GET', path: '/_strangler/api/shadow' },
  { method: 'GET', path: '/_strangler/api/dashboard' },
  { method: 'POST', path: '/_strangler/api/contexts/users/advance', body: { reason: 'x' } },
  { method: 'POST', path: '/_strangler/api/contexts/users/rollback', body: {} },
  { method: 'POST', path: '/_strangler/api/contexts/products/canary', body: { percent: 5 } },
  { method: 'POST', path: '/_strangler/api/kill-switch', body: { on: true } },
  { method: 'GET', path: '/_strangler/api/no-such-route' },
  { method: 'DELETE', path: '/_strangler/api/routes' },
];

/** Credentials that must all be refused. */
const WRONG: ReadonlyArray<[string, Record<string, string>]> = [
  ['no credentials', {}],
  ['an empty bearer', { authorization: 'Bearer ' }],
  ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
  ['the token plus one character', { authorization: `Bearer ${TOKEN}0` }],
  ['a token of another length', { authorization: 'Bearer short' }],
  ['the token in another case', { authorization: `Bearer ${TOKEN.toUpperCase()}` }],
  ['the token without a scheme', { authorization: TOKEN }],
  ['the token as basic credentials', { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }],
  ['a wrong session cookie', { cookie: 'strangler_admin=not-the-session' }],
  // The cookie carries a value derived from the token; the token itself is not a session.
  ['the raw token as the cookie', { cookie: `strangler_admin=${TOKEN}` }],
  [
    'a wrong bearer with the right cookie',
    { authorization: 'Bearer wrong', cookie: `strangler_admin=${dashboardSession(TOKEN)}` },
  ],
];

describe('with no ADMIN_TOKEN, the admin API and the dashboard do not exist', () => {
  let monolith: Upstream;
  let router: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    monolith = await upstream(() => ({ status: 200, body: { ok: true } }));
    router = await buildApp(testConfig({ MONOLITH_URL: monolith.url }), { flags: staticFlagSource() });
    base = await router.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await router?.close();
    await new Promise((resolve) => monolith?.server.close(resolve));
  });

  it('answers 404 NOT_FOUND on every one of their paths, even with a token, and forwards none to ShopCo', async () => {
    const paths = [
      ...ADMIN_ROUTES,
      { method: 'GET', path: '/_strangler/' },
      { method: 'POST', path: '/_strangler/session' },
    ];
    for (const route of paths) {
      const res = await fetch(`${base}${route.path}`, {
        method: route.method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { body: JSON.stringify({ token: TOKEN }) }),
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(404);
      expect((await body(res)).error?.code).toBe('NOT_FOUND');
    }
    expect(monolith.seen).toEqual([]);
  });
});

describe('with ADMIN_TOKEN', () => {
  let monolith: Upstream;
  let usersService: Upstream;
  let router: FastifyInstance;
  let base: string;
  let hash: string;
  const logs = logSink();
  const flags = staticFlagSource();

  beforeAll(async () => {
    hash = await hashPassword('the-users-password');
    monolith = await upstream((req) =>
      req.url?.startsWith('/api/users/register')
        ? { status: 500, body: { error: { code: 'INTERNAL', message: 'boom' } } }
        : { status: 200, body: { id: 1, email: 'ada@example.com', name: 'Ada' } },
    );
    // A users service with the bug the shadow diff exists to catch: it leaks the hash.
    usersService = await upstream(() => ({
      status: 200,
      body: { id: 1, email: 'ada@example.com', name: 'Ada', passwordHash: hash, nested: { password_hash: hash } },
    }));
    const cli = `${process.env.TMPDIR ?? '/tmp'}/strangler-security-cli-${process.pid}.mjs`;
    writeFileSync(cli, 'process.stdout.write(JSON.stringify({ contexts: [] }));\n');
    router = await buildApp(
      testConfig({ MONOLITH_URL: monolith.url, USERS_SERVICE_URL: usersService.url, ADMIN_TOKEN: TOKEN }),
      {
        flags,
        logger: createLogger({ name: 'edge-router', level: 'info' }, logs.sink),
        dashboardCli: { strangler: cli, flags: cli, env: {} },
      },
    );
    base = await router.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await router?.close();
    for (const u of [monolith, usersService]) await new Promise((resolve) => u?.server.close(resolve));
  });

  const call = (route: { method: string; path: string; body?: unknown }, headers: Record<string, string>) =>
    fetch(`${base}${route.path}`, {
      method: route.method,
      headers: {
        ...headers,
        'x-strangler-dashboard': '1',
        ...(route.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
    });

  it.each(WRONG)('refuses %s on every route with 401 ROUTER_ADMIN_UNAUTHORIZED', async (_what, headers) => {
    for (const route of ADMIN_ROUTES) {
      const res = await call(route, headers);
      const what = `${route.method} ${route.path}`;
      expect(res.status, what).toBe(401);
      expect(res.headers.get('x-request-id'), what).toBeTruthy();
      const answer = await body(res);
      expect(answer.error?.code, what).toBe('ROUTER_ADMIN_UNAUTHORIZED');
      expect(typeof answer.error?.message).toBe('string');
      expect(JSON.stringify(answer)).not.toContain(TOKEN);
    }
    expect(monolith.seen.filter((s) => s.url.startsWith('/_strangler'))).toEqual([]);
  });

  it('refuses a sign-in with a wrong token, and sets no cookie', async () => {
    for (const token of ['', TOKEN.slice(0, -1), `${TOKEN}0`, TOKEN.toLowerCase(), 42]) {
      const res = await fetch(`${base}/_strangler/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect((await body(res)).error?.code).toBe('ROUTER_ADMIN_UNAUTHORIZED');
    }
  });

  it('serves the sign-in page to anyone, with no data in it', async () => {
    const res = await fetch(`${base}/_strangler/`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).not.toContain(TOKEN);
    expect(page).not.toContain('ada@example.com');
  });

  it('opens with the token: as a bearer, or as the session cookie the sign-in sets (which is not the token)', async () => {
    const bearer = { authorization: `Bearer ${TOKEN}` };
    expect((await call({ method: 'GET', path: '/_strangler/api/routes' }, bearer)).status).toBe(200);
    expect((await call({ method: 'GET', path: '/_strangler/api/shadow' }, bearer)).status).toBe(200);
    expect((await call({ method: 'GET', path: '/_strangler/api/dashboard' }, bearer)).status).toBe(200);
    const unknown = await call({ method: 'GET', path: '/_strangler/api/no-such-route' }, bearer);
    expect(unknown.status).toBe(404);
    expect((await body(unknown)).error?.code).toBe('NOT_FOUND');
    const outsideApi = await call({ method: 'GET', path: '/_strangler/no-such-page' }, {});
    expect(outsideApi.status).toBe(404);
    expect((await body(outsideApi)).error?.code).toBe('NOT_FOUND');
    expect(monolith.seen.filter((s) => s.url.startsWith('/_strangler'))).toEqual([]);

    const signIn = await fetch(`${base}/_strangler/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(signIn.status).toBe(200);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^strangler_admin=/);
    expect(cookie).not.toContain(TOKEN);
    expect(signIn.headers.get('set-cookie')).toMatch(/HttpOnly/);
    expect(signIn.headers.get('set-cookie')).toMatch(/SameSite=Strict/);
    expect((await call({ method: 'GET', path: '/_strangler/api/dashboard' }, { cookie })).status).toBe(200);
    // The cookie's value opens the dashboard only: it is no bearer token for the admin API.
    const value = cookie.slice('strangler_admin='.length);
    expect(
      (await call({ method: 'GET', path: '/_strangler/api/routes' }, { authorization: `Bearer ${value}` })).status,
    ).toBe(401);
  });

  it('takes the session cookie alongside another scheme of Authorization (a basic-auth proxy in front)', async () => {
    const cookie = `strangler_admin=${dashboardSession(TOKEN)}`;
    const basic = `Basic ${Buffer.from('proxy-user:proxy-password').toString('base64')}`;
    const res = await call({ method: 'GET', path: '/_strangler/api/dashboard' }, { authorization: basic, cookie });
    expect(res.status).toBe(200);
  });

  it('refuses a change without the x-strangler-dashboard header with 403 ROUTER_DASHBOARD_HEADER', async () => {
    const res = await fetch(`${base}/_strangler/api/kill-switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ on: true }),
    });
    expect(res.status).toBe(403);
    expect((await body(res)).error?.code).toBe('ROUTER_DASHBOARD_HEADER');
  });

  it('shows a shadow mismatch on a leaked password hash by its path, never by its value', async () => {
    flags.set({
      ...MONOLITH_ONLY,
      contexts: { ...MONOLITH_ONLY.contexts, users: { shadowPercent: 100, readPercent: 0, writeOwner: 'monolith' } },
    });
    const res = await fetch(`${base}/api/users/1`);
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain(hash);
    const bearer = { authorization: `Bearer ${TOKEN}` };
    let shadow = '';
    for (let i = 0; i < 100 && !shadow.includes('passwordHash'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      shadow = await (await call({ method: 'GET', path: '/_strangler/api/shadow' }, bearer)).text();
    }
    const mismatches = JSON.parse(shadow).recentMismatches as Array<{ paths: string[] }>;
    expect(mismatches[0]?.paths.join(' ')).toContain('passwordHash');
    const dashboard = await (await call({ method: 'GET', path: '/_strangler/api/dashboard' }, bearer)).text();
    expect(dashboard).toContain('passwordHash');
    for (const text of [shadow, dashboard]) {
      expect(text).not.toContain(hash);
      expect(text).not.toContain(hash.split('$')[4]);
    }
  });

  it('writes no password, hash or token to its log, for requests that succeed or fail', async () => {
    const userToken = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    await fetch(`${base}/api/users/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
      body: JSON.stringify({ email: 'ada@example.com', password: 'the-users-password', name: 'Ada' }),
    });
    await fetch(`${base}/api/users/login?password=the-users-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `strangler_admin=${dashboardSession(TOKEN)}` },
      body: JSON.stringify({ email: 'ada@example.com', password: 'the-users-password' }),
    });
    await fetch(`${base}/api/users/1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"password":',
    });
    const text = logs.text();
    expect(text).toContain('"route":"POST /api/users/register"');
    for (const secret of ['the-users-password', hash, hash.split('$')[4], userToken, TOKEN, dashboardSession(TOKEN)]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('the router in production', () => {
  it('refuses to start without secrets of its own, naming each, and accepts its own', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /JWT_SECRET must be set in production[\s\S]*UNLEASH_CLIENT_TOKEN must be set in production/,
    );
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'shopco-dev-secret-change-me',
        UNLEASH_CLIENT_TOKEN: 'default:development.strangler-client-dev',
      }),
    ).toThrow(/JWT_SECRET is the development default[\s\S]*UNLEASH_CLIENT_TOKEN is the development default/);
    expect(() =>
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'ours', UNLEASH_CLIENT_TOKEN: 'ours', ADMIN_TOKEN: 'short' }),
    ).toThrow(/ADMIN_TOKEN must be at least 16 characters/);
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'ours', UNLEASH_CLIENT_TOKEN: 'ours-too' });
    expect(config.ADMIN_TOKEN).toBeUndefined();
  });
});
