import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { databaseUrlFor, withAdminClient } from '@strangler/foundation';
import { freePort, lockFlags, testServerUrls } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tcpAnswers } from '../lib/postgres.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

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
  let guardPort: number;
  let routerPort: number;
  let servicePort: number;
  let productsPort: number;
  let output: string;
  let release: () => Promise<void>;
  // The run's Unleash: the demo uses it (UNLEASH_URL) instead of starting its own.
  const env = () => ({
    ...process.env,
    DATABASE_URL: databaseUrl,
    UNLEASH_URL: inject('unleashUrl'),
    UNLEASH_ADMIN_TOKEN: inject('unleashAdminToken'),
    UNLEASH_CLIENT_TOKEN: inject('unleashClientToken'),
  });

  beforeAll(async () => {
    // The printed lines flip the kill switch: keep other flag-changing test files out meanwhile.
    release = await lockFlags();
    databaseUrl = databaseUrlFor(testServerUrls().databaseUrl, database);
    port = await freePort();
    routerPort = await freePort();
    servicePort = await freePort();
    productsPort = await freePort();
    guardPort = await freePort();
    const args = [
      ...['--port', String(port), '--router-port', String(routerPort)],
      ...['--service-port', String(servicePort), '--products-port', String(productsPort)],
      ...['--guard-port', String(guardPort)],
    ];
    demo = spawn(
      process.execPath,
      [join(ROOT, 'scripts/demo.ts'), ...args, '--users', '20', '--products', '10', '--orders', '30'],
      {
        cwd: ROOT,
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    output = await outputUntil(demo, 'Press Ctrl-C to stop.', 60_000);
  }, 90_000);

  afterAll(async () => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
    for (const name of [database, `${database}_users`, `${database}_products`, `${database}_strangler`]) {
      await withAdminClient(testServerUrls().databaseUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      );
    }
    await release?.();
  });

  it('says which Postgres it used, migrates and seeds', async () => {
    expect(output).toContain('postgres: DATABASE_URL');
    expect(output).toMatch(/applied 001_shopco_schema/);
    expect(output).toMatch(/seed: +20 users, 10 products, 30 orders/);
    expect(output).toContain(`shopco:   http://127.0.0.1:${port}`);
    expect(output).toContain('unleash:  UNLEASH_URL');
    expect(output).toContain(`router:   http://127.0.0.1:${routerPort}`);
    expect(output).toContain(`users:    http://127.0.0.1:${servicePort}  (database ${database}_users, created`);
    expect(output).toContain(`products: http://127.0.0.1:${productsPort}  (database ${database}_products, created`);
    expect(output).toContain('sync:     a users sync worker, waiting for capture');
    expect(output).toContain('sync:     a products sync worker, waiting for capture');
    expect(output).toContain(`guard:    watching canary and reads; metrics on http://127.0.0.1:${guardPort}/metrics`);
    // The guard has checked both contexts at least once: at legacy neither is guarded.
    const metrics = await (await fetch(`http://127.0.0.1:${guardPort}/metrics`)).text();
    expect(metrics).toMatch(/strangler_guard_checks_total\{context="users",verdict="idle"\} [1-9]/);
    expect(metrics).toMatch(/strangler_guard_checks_total\{context="products",verdict="idle"\} [1-9]/);
  });

  it('prints lines to try that all succeed when run as printed, through the router', async () => {
    const block = output.slice(output.indexOf('Try it:'), output.indexOf('Press Ctrl-C'));
    const lines = block
      .split('\n')
      .filter((l) => l.startsWith('  '))
      .map((l) => l.trim());
    expect(lines.length).toBeGreaterThanOrEqual(9);
    expect(lines.every((l) => !l.includes(`:${port}/`))).toBe(true);
    const { stdout } = await run('bash', ['-c', `set -euo pipefail\n${lines.join('\n')}`], { cwd: ROOT, env: env() });
    expect(stdout).toContain('"items"');
    expect(stdout).toContain('"status":"succeeded"');
    expect(stdout).toContain('PAYMENTS_DECLINED');
    expect(stdout).toMatch(/route="POST \/api\/checkout",target="monolith",status="201"\} 1/);
    expect(stdout).toContain('GET /api/users/:id -> monolith');
    expect(stdout).toContain('strangler.users.reads');
    expect(stdout).toContain('Kill switch ON');
    expect(stdout).toMatch(/^users: legacy/m);
    expect(stdout).toContain('users: legacy → sync (gate met)');
    expect(stdout).toContain('backfill of users: 20 rows read, 20 inserted');
    expect(stdout).toMatch(/legacy → sync +\S+ +start the users extraction/);
  });

  it('serves the migration dashboard, whose status comes from the stage machine', async () => {
    expect(output).toContain(`The migration dashboard: http://127.0.0.1:${routerPort}/_strangler/`);
    const res = await fetch(`http://127.0.0.1:${routerPort}/_strangler/api/dashboard`, {
      headers: { authorization: 'Bearer strangler-demo-admin-token' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: { contexts: Array<{ context: string }> } };
    expect(body.status.contexts.map((c) => c.context)).toEqual(['users', 'products']);
  });

  it('stops everything it started on Ctrl-C', async () => {
    demo.kill('SIGINT');
    const [code] = await once(demo, 'exit');
    expect(code).toBe(0);
    expect(await tcpAnswers('127.0.0.1', port)).toBe(false);
    expect(await tcpAnswers('127.0.0.1', routerPort)).toBe(false);
    expect(await tcpAnswers('127.0.0.1', servicePort)).toBe(false);
  });
});
