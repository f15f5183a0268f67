import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FlagSnapshot, MONOLITH_ONLY, staticFlagSource } from '@strangler/flags';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

/**
 * What a client is told when the service fails a request, by what the router
 * knows of it: a read is answered by the monolith instead; a write (sent to
 * one side only, never twice) gets 503 only when it was never sent, else an
 * answer that says its outcome is unknown (504 no answer in time, 502 the
 * connection broke after sending), never a 500.
 */

// Users on their service for reads and writes.
const FLAGS: FlagSnapshot = {
  killSwitch: false,
  contexts: { ...MONOLITH_ONLY.contexts, users: { shadowPercent: 0, readPercent: 100, writeOwner: 'service' } },
};

const seen: Array<{ side: string; method: string; url: string }> = [];
const servers: Server[] = [];
let router: FastifyInstance;
let base: string;

async function upstream(side: string, failing: boolean): Promise<string> {
  const server = createServer((req, res) => {
    seen.push({ side, method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    if (failing && req.url === '/api/users/8') {
      // Takes the request, then dies before answering (as a process killed mid-write does).
      req.on('end', () => req.socket.destroy());
      return;
    }
    if (failing) return; // never answers; the router's timeout must
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ from: side }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const [monolith, users] = await Promise.all([upstream('monolith', false), upstream('users', true)]);
  router = await buildApp(
    testConfig({
      MONOLITH_URL: monolith,
      USERS_SERVICE_URL: users,
      SERVICE_TIMEOUT_MS: '200',
      BREAKER_FAILURES: '100',
    }),
    { flags: staticFlagSource(FLAGS) },
  );
  base = await router.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await router?.close();
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

const put = (url: string) =>
  fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'X' }) });

describe('a service past the router timeout', () => {
  it('has its read answered by the monolith', async () => {
    seen.length = 0;
    const res = await fetch(`${base}/api/users/7`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-strangler-target')).toBe('monolith');
    expect(seen.map((s) => s.side)).toEqual(['users', 'monolith']);
  });

  it('has its write answered 504 ROUTER_UPSTREAM_TIMEOUT, sent once and never to the monolith', async () => {
    seen.length = 0;
    const res = await fetch(`${base}/api/users/7`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Slow' }),
    });
    expect(res.status).toBe(504);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ROUTER_UPSTREAM_TIMEOUT');
    expect(body.error.message).toContain('may or may not have been applied');
    expect(seen).toEqual([{ side: 'users', method: 'PUT', url: '/api/users/7' }]);
  });
});

describe('a service that breaks the connection after taking a write', () => {
  it('has the write answered 502 ROUTER_UPSTREAM_BROKEN (outcome unknown), not a 503 that says nothing was done', async () => {
    seen.length = 0;
    const res = await put(`${base}/api/users/8`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ROUTER_UPSTREAM_BROKEN');
    expect(body.error.message).toContain('may or may not have been applied');
    expect(seen).toEqual([{ side: 'users', method: 'PUT', url: '/api/users/8' }]);
  });
});

describe('a service nobody listens for', () => {
  it('has the write answered 503 ROUTER_UPSTREAM_UNAVAILABLE: it was never sent', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const monolith = await upstream('monolith', false);
    const alone = await buildApp(
      testConfig({ MONOLITH_URL: monolith, USERS_SERVICE_URL: `http://127.0.0.1:${port}`, BREAKER_FAILURES: '100' }),
      { flags: staticFlagSource(FLAGS) },
    );
    try {
      const url = await alone.listen({ host: '127.0.0.1', port: 0 });
      seen.length = 0;
      const res = await put(`${url}/api/users/7`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ROUTER_UPSTREAM_UNAVAILABLE');
      expect(seen).toEqual([]);
    } finally {
      await alone.close();
    }
  });
});
