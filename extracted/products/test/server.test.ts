import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { freePort, freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_INTERNAL_API_TOKEN, loadConfig } from '../src/config.ts';

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
  db = await freshDatabase('products');
});
afterAll(() => db.drop());

describe('server.ts', () => {
  it('serves on PORT, reports itself as the products service, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const server = startServer({ DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info' });
    await waitForReady(`http://127.0.0.1:${port}/ready`);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toEqual({ status: 'ok', service: 'products' });
    server.child.kill('SIGTERM');
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(0);
    expect(server.output()).toContain('"msg":"closed"');
  });

  it('refuses to start with bad configuration, with a clear message and no stack trace', async () => {
    const server = startServer({ DATABASE_URL: 'mysql://nope', PORT: 'eighty', INTERNAL_API_TOKEN: 'short' });
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(2);
    expect(server.output()).toContain('PORT must be an integer');
    expect(server.output()).toContain('DATABASE_URL must use postgres or postgresql');
    expect(server.output()).not.toMatch(/\n\s+at /);
  });

  it('refuses the development internal token in production', async () => {
    const server = startServer({ DATABASE_URL: db.url, NODE_ENV: 'production', INTERNAL_API_TOKEN: '' });
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(2);
    expect(server.output()).toContain('INTERNAL_API_TOKEN must be set in production');
    expect(server.output()).not.toMatch(/\n\s+at /);
  });
});

describe('config.ts', () => {
  it('defaults to port 3002, shopco_products and the development internal token', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3002);
    expect(config.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/shopco_products');
    expect(config.DATABASE_POOL_MAX).toBe(10);
    expect(config.INTERNAL_API_TOKEN).toBe(DEVELOPMENT_INTERNAL_API_TOKEN);
  });

  it('accepts a token of its own in production', () => {
    const token = 'a-production-token-of-our-own-0123456789';
    expect(loadConfig({ NODE_ENV: 'production', INTERNAL_API_TOKEN: token }).INTERNAL_API_TOKEN).toBe(token);
  });

  it('refuses the development token set explicitly in production: it is public', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', INTERNAL_API_TOKEN: DEVELOPMENT_INTERNAL_API_TOKEN })).toThrow(
      /INTERNAL_API_TOKEN is the development default/,
    );
  });

  it.each([
    ['shorter than 16 characters', 'too-short'],
    ['with a character a bearer header cannot carry', 'a token with spaces in it'],
  ])('refuses an internal token %s', (_label, token) => {
    expect(() => loadConfig({ INTERNAL_API_TOKEN: token })).toThrow(
      'INTERNAL_API_TOKEN must be 16 to 512 characters of A-Z a-z 0-9 . _ ~ + / = -',
    );
  });
});
