import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { databaseUrlFor, withAdminClient } from '@strangler/foundation';
import { testServerUrls } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpAnswers } from '../lib/postgres.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Collects the demo's stdout until `marker` appears. */
function outputUntil(child: ChildProcess, marker: string, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`demo did not print "${marker}" in time:\n${out}`)), timeoutMs);
    child.stdout?.on('data', (chunk) => {
      out += String(chunk);
      if (out.includes(marker)) {
        clearTimeout(timer);
        resolvePromise(out);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited (${code}) before "${marker}":\n${out}`));
    });
  });
}

describe('pnpm demo', () => {
  const database = `strangler_t_${Math.floor(Date.now() / 1000)}_demo${process.pid}`;
  let databaseUrl: string;
  let demo: ChildProcess;
  let port: number;
  let output: string;

  beforeAll(async () => {
    databaseUrl = databaseUrlFor(testServerUrls().databaseUrl, database);
    port = await freePort();
    demo = spawn(
      process.execPath,
      [join(ROOT, 'scripts/demo.ts'), '--port', String(port), '--users', '20', '--products', '10', '--orders', '30'],
      {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: databaseUrl },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    output = await outputUntil(demo, 'Press Ctrl-C to stop.', 60_000);
  }, 90_000);

  afterAll(async () => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
    await withAdminClient(testServerUrls().databaseUrl, (c) =>
      c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`),
    );
  });

  it('says which Postgres it used, migrates and seeds', () => {
    expect(output).toContain('postgres: DATABASE_URL');
    expect(output).toMatch(/applied 001_shopco_schema/);
    expect(output).toMatch(/seed: +20 users, 10 products, 30 orders/);
    expect(output).toContain(`ShopCo is up on http://127.0.0.1:${port}`);
  });

  it('prints curl lines that all succeed when run as printed', async () => {
    const block = output.slice(output.indexOf('Try it:'), output.indexOf('Press Ctrl-C'));
    const lines = block
      .split('\n')
      .filter((l) => l.startsWith('  curl') || l.startsWith('  TOKEN='))
      .map((l) => l.trim());
    expect(lines.length).toBeGreaterThanOrEqual(6);
    const { stdout } = await run('bash', ['-c', `set -euo pipefail\n${lines.join('\n')}`], { cwd: ROOT });
    expect(stdout).toContain('"items"');
    expect(stdout).toContain('"status":"succeeded"');
    expect(stdout).toContain('PAYMENTS_DECLINED');
    expect(stdout).toMatch(/route="\/api\/checkout",status_code="201"\} 1/);
  });

  it('stops everything it started on Ctrl-C', async () => {
    demo.kill('SIGINT');
    const [code] = await once(demo, 'exit');
    expect(code).toBe(0);
    expect(await tcpAnswers('127.0.0.1', port)).toBe(false);
  });
});
