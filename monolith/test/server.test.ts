import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { freePort, freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SERVER = resolve(import.meta.dirname, '../src/server.ts');

function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += String(c)));
  child.stderr.on('data', (c) => (output += String(c)));
  return { child, output: () => output };
}

async function waitForReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('monolith');
});
afterAll(() => db.drop());

describe('server.ts', () => {
  it('finishes a request in flight on SIGTERM, then exits 0', async () => {
    const port = await freePort();
    const server = startServer({ DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info' });
    await waitForReady(`http://127.0.0.1:${port}/ready`);
    // Registration spends ~50 ms in scrypt: long enough to be in flight when the signal lands.
    const inFlight = fetch(`http://127.0.0.1:${port}/api/users/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'late@example.com', password: 'password123', name: 'Late' }),
    });
    // Signal only once the server has the request (a fixed sleep raced under load).
    for (let i = 0; i < 500 && !/"url":"\/api\/users\/register"/.test(server.output()); i++) {
      await new Promise((r) => setTimeout(r, 2));
    }
    server.child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(201);
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(0);
    expect(server.output()).toContain('"msg":"closed"');
  });

  it('refuses to start with bad configuration, with a clear message and no stack trace', async () => {
    const server = startServer({ DATABASE_URL: 'mysql://nope', PORT: 'eighty' });
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(2);
    expect(server.output()).toContain('PORT must be an integer');
    expect(server.output()).toContain('DATABASE_URL must use postgres or postgresql');
    expect(server.output()).not.toMatch(/\n\s+at /);
  });

  it('refuses the development JWT secret in production', async () => {
    const server = startServer({ DATABASE_URL: db.url, NODE_ENV: 'production', JWT_SECRET: '' });
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(2);
    expect(server.output()).toContain('JWT_SECRET must be set');
  });

  it('refuses to follow the products service in production without an Unleash client token of its own', async () => {
    const server = startServer({
      DATABASE_URL: db.url,
      NODE_ENV: 'production',
      JWT_SECRET: 'a-production-secret-of-our-own',
      PRODUCTS_SERVICE_URL: 'http://127.0.0.1:9',
      REDIS_URL: 'redis://127.0.0.1:6379',
      INVENTORY_API_TOKEN: 'a-production-inventory-token',
      UNLEASH_CLIENT_TOKEN: '',
    });
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(2);
    expect(server.output()).toContain('UNLEASH_CLIENT_TOKEN must be set');
    expect(server.output()).not.toMatch(/\n\s+at /);
  });
});
