import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createFlagClient, type FlagClient, flagName, UnleashAdminApi } from '@strangler/flags';
import { createKnex, type Knex } from '@strangler/foundation';
import { freshDatabase, lockFlags, type TestDatabase } from '@strangler/foundation/testing';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp as buildMonolith } from '../../monolith/src/app.ts';
import { testConfig as monolithConfig } from '../../monolith/src/config.ts';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

/**
 * The dashboard in a real browser (Debian's chromium, driven by
 * playwright-core), against a router, ShopCo, the run's Unleash and Redis,
 * and the stage machine's databases: it signs in, shows the figures
 * `strangler status --json` gives, and a click on "Advance" for a context
 * whose gate is unmet shows the CLI's refusal. It saves a screenshot (into
 * docs/img/ with UPDATE_SCREENSHOTS=1, for the README).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'migrations/src/cli/strangler.ts');
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-admin-token';
const run = promisify(execFile);
const prefix = `test-dashboard-${process.pid}`;

let release: () => Promise<void>;
let dbs: Record<'monolith' | 'users' | 'products' | 'control', TestDatabase>;
let monolithKnex: Knex;
let monolith: FastifyInstance;
let router: FastifyInstance;
let flags: FlagClient;
let browser: Browser;
let base: string;
let cliEnv: NodeJS.ProcessEnv;

async function strangler(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: cliEnv });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function resetFlags(): Promise<void> {
  const api = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
  await api.killSwitch(false);
  for (const context of ['users', 'products'] as const) {
    for (const kind of ['writes', 'reads', 'shadow'] as const) await api.disable(flagName(context, kind));
  }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (./run test does when it can)`);
  }
  release = await lockFlags();
  await resetFlags();
  const [m, u, p, c] = await Promise.all([
    freshDatabase('monolith'),
    freshDatabase('users'),
    freshDatabase('products'),
    freshDatabase('control'),
  ]);
  dbs = { monolith: m, users: u, products: p, control: c };
  monolithKnex = createKnex({ url: m.url, pool: { max: 2 } });
  await monolithKnex('users').insert([
    { email: 'ada@example.test', full_name: 'Ada Lovelace', password_hash: 'x' },
    { email: 'alan@example.test', full_name: 'Alan Turing', password_hash: 'x' },
  ]);
  cliEnv = {
    PATH: process.env.PATH ?? '',
    STRANGLER_DATABASE_URL: c.url,
    DATABASE_URL: m.url,
    USERS_DATABASE_URL: u.url,
    PRODUCTS_DATABASE_URL: p.url,
    REDIS_URL: inject('redisUrl'),
    SYNC_QUEUE_PREFIX: prefix,
    TRAFFIC_KEY_PREFIX: `${prefix}:traffic`,
    FENCE_KEY_PREFIX: `${prefix}:fence`,
    UNLEASH_URL: inject('unleashUrl'),
    UNLEASH_ADMIN_TOKEN: inject('unleashAdminToken'),
    USER: 'dashboard-test',
  };
  // Users at sync, with a change the service has not received (no sync worker runs) and a reconcile that saw it.
  expect((await strangler('advance', 'users', '--reason', 'dashboard test')).code).toBe(0);
  await monolithKnex('users').insert({ email: 'grace@example.test', full_name: 'Grace Hopper', password_hash: 'x' });
  await strangler('reconcile', 'users');

  monolith = await buildMonolith(monolithConfig({ DATABASE_URL: m.url }));
  const monolithUrl = await monolith.listen({ host: '127.0.0.1', port: 0 });
  flags = createFlagClient({
    url: inject('unleashUrl'),
    clientToken: inject('unleashClientToken'),
    refreshMs: 500,
    backupPath: join(mkdtempSync(join(tmpdir(), 'strangler-dash-')), 'backup.json'),
  });
  router = await buildApp(
    testConfig({
      MONOLITH_URL: monolithUrl,
      ADMIN_TOKEN: TOKEN,
      REDIS_URL: inject('redisUrl'),
      TRAFFIC_KEY_PREFIX: `${prefix}:traffic`,
      FENCE_KEY_PREFIX: `${prefix}:fence`,
    }),
    {
      flags,
      dashboardCli: { strangler: CLI, flags: join(ROOT, 'flags/src/cli.ts'), env: cliEnv },
    },
  );
  base = await router.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await router?.close();
  await flags?.close();
  await monolith?.close();
  await monolithKnex?.destroy();
  if (dbs) await Promise.all(Object.values(dbs).map((d) => d.drop()));
  await resetFlags().catch(() => {});
  await release?.();
});

describe('the dashboard at /_strangler/', () => {
  it('refuses its data without the admin token, or with a wrong one', async () => {
    expect((await fetch(`${base}/_strangler/api/dashboard`)).status).toBe(401);
    const wrong = await fetch(`${base}/_strangler/api/dashboard`, {
      headers: { authorization: 'Bearer not-the-token' },
    });
    expect(wrong.status).toBe(401);
    const session = await fetch(`${base}/_strangler/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'not-the-token' }),
    });
    expect(session.status).toBe(401);
    expect(session.headers.get('set-cookie')).toBeNull();
    const move = await fetch(`${base}/_strangler/api/contexts/users/advance`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(move.status).toBe(403);
  });

  it('signs in, shows what strangler status says, and shows the refusal of an advance whose gate is unmet', async () => {
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/api/users/1`)).status).toBe(200);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${base}/_strangler/`);
      await page.fill('#token', TOKEN);
      await page.click('#signin-form button');
      await page.waitForFunction("document.querySelector('[data-testid=stage-users]')?.textContent === 'sync'");

      const status = JSON.parse((await strangler('status', '--json')).stdout) as {
        contexts: Array<{
          context: string;
          stage: { stage: string };
          flags: { readPercent: number; writeOwner: string };
          sync: { deadLetters: number | null };
        }>;
      };
      for (const c of status.contexts) {
        expect(await page.textContent(`[data-testid=stage-${c.context}]`)).toBe(c.stage.stage);
        expect(await page.textContent(`[data-testid=reads-${c.context}]`)).toBe(`${c.flags.readPercent} %`);
        expect(await page.textContent(`[data-testid=owner-${c.context}]`)).toBe(c.flags.writeOwner);
      }
      expect(await page.textContent('[data-testid=stage-products]')).toBe('legacy');
      expect(await page.textContent('[data-testid=next-users]')).toContain('gate not met');
      expect(await page.textContent('[data-testid=guard-users]')).toBe(
        'not guarded: sync is not guarded (only canary and reads are)',
      );
      // This router's own counts, live: the five reads above went to ShopCo and got 2xx.
      const row = page.locator('#wide tr', { hasText: 'monolith 2xx' });
      expect(await row.locator('td').nth(2).textContent()).toBe('5');

      await page.click('[data-testid=advance-users]');
      const result = page.locator('[data-testid=result-users].refused');
      await result.waitFor({ timeout: 60_000 });
      expect(await result.textContent()).toContain('users stays at sync: the gate to shadow is not met');
      // Refused: nothing moved.
      expect(JSON.parse((await strangler('status', 'users', '--json')).stdout).contexts[0].stage.stage).toBe('sync');

      const dir =
        process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs/img') : mkdtempSync(join(tmpdir(), 'shot-'));
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'dashboard.png');
      await page.screenshot({ path: file, fullPage: true });
      expect(existsSync(file)).toBe(true);
    } finally {
      await page.close();
    }
  }, 180_000);
});
