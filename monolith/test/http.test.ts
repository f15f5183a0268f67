import { Writable } from 'node:stream';
import { createLogger } from '@strangler/foundation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';
import { type Call, client, errorCode, type ShopCo, signUp, startShopCo } from './helpers.ts';

/** Every line ShopCo logs, parsed. */
const logLines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});

let shop: ShopCo;
let call: Call;

beforeAll(async () => {
  shop = await startShopCo({ logger: createLogger({ name: 'shopco', level: 'info' }, sink) });
  call = client(shop.url);
});
afterAll(() => shop.close());

async function raw(path: string, init: RequestInit): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${shop.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

describe('malformed requests', () => {
  it('answers 400 INVALID_JSON for a body that is not JSON', async () => {
    const res = await raw('/api/products', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sku": "A",',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'INVALID_JSON', message: expect.any(String) } });
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await raw('/api/products', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku: 'BIG', name: 'x'.repeat(2 * 1024 * 1024), priceCents: 1, stock: 1 }),
    });
    expect(res.status).toBe(413);
    expect(errorCode(res as never)).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 415 for a body that is not declared as JSON', async () => {
    const res = await raw('/api/products', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'sku=A',
    });
    expect(res.status).toBe(415);
    expect(errorCode(res as never)).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('ignores a __proto__ key instead of polluting objects', async () => {
    const res = await raw('/api/products', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sku":"PROTO-1","name":"P","priceCents":1,"stock":1,"__proto__":{"admin":true}}',
    });
    expect(res.status).toBe(400);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('answers 404 NOT_FOUND as JSON for an unknown route', async () => {
    const res = await call('GET', '/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Route GET /api/nothing-here not found' } });
  });

  it('answers a path with broken percent-encoding with 400 INVALID_URL', async () => {
    const res = await call('GET', '/api/users/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('INVALID_URL');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('answers an over-long path segment with 414 PATH_SEGMENT_TOO_LONG', async () => {
    const res = await call('GET', `/api/users/${'1'.repeat(500)}`);
    expect(res.status).toBe(414);
    expect(errorCode(res)).toBe('PATH_SEGMENT_TOO_LONG');
  });

  it('stores unicode and SQL-looking text as given', async () => {
    const name = "Zoë 'Robert'); DROP TABLE users;-- 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 名前";
    const user = await signUp(call, { name });
    expect((await call('GET', `/api/users/${user.id}`)).body.name).toBe(name);
  });
});

describe('request ids', () => {
  it('echoes a sane x-request-id and logs it on the request lines', async () => {
    const res = await call('GET', '/api/users/1', { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    expect(logLines.some((l) => l.reqId === 'trace-abc-123')).toBe(true);
  });

  it('replaces an unsafe request id with a fresh one', async () => {
    const res = await call('GET', '/api/users/1', { headers: { 'x-request-id': `evil\tid ${'x'.repeat(100)}` } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives every response an id, errors included', async () => {
    const res = await call('GET', '/api/users/not-a-number');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });
});

describe('logs', () => {
  it('never contain passwords, hashes or bearer tokens', async () => {
    const user = await signUp(call, { password: 'sup3r-s3cret-passw0rd' });
    shop.app.log.info({ password: 'sup3r-s3cret-passw0rd', user: { passwordHash: 'scrypt$x' } }, 'careless log');
    await call('PUT', `/api/users/${user.id}`, { token: user.token, body: { name: 'Z' } });
    const all = JSON.stringify(logLines);
    expect(all).not.toContain('sup3r-s3cret-passw0rd');
    expect(all).not.toContain('scrypt$');
    expect(all).not.toContain(user.token);
    expect(all).toContain('[redacted]');
  });
});

describe('health, readiness and metrics', () => {
  it('answers /health and /ready when the database is up', async () => {
    expect((await call('GET', '/health')).body).toEqual({ status: 'ok', service: 'shopco' });
    const ready = await call('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { database: 'ok' } });
  });

  it('exposes request durations by route for Prometheus', async () => {
    await call('GET', '/api/products/search?q=a');
    const res = await fetch(`${shop.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/products\/search"[^}]*\} [1-9]/);
  });
});

describe('with the database down', () => {
  it('is live but not ready, and answers API calls with 503 instead of hanging or crashing', async () => {
    const app = await buildApp(testConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/shopco' }));
    try {
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      const ready = await app.inject({ method: 'GET', url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().status).toBe('unavailable');
      const res = await app.inject({ method: 'GET', url: '/api/products/1' });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await app.close();
    }
  });
});
