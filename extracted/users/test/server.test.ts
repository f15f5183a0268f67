import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SERVER = resolve(import.meta.dirname, '../src/server.ts');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

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
  db = await freshDatabase('users');
});
afterAll(() => db.drop());

describe('server.ts', () => {
  it('serves on PORT, reports itself as the users service, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const server = startServer({ DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info' });
    await waitForReady(`http://127.0.0.1:${port}/ready`);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toEqual({ status: 'ok', service: 'users' });
    server.child.kill('SIGTERM');
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
});
