import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { flagName, REPO_ROOT, UnleashAdminApi } from '@strangler/flags';
import { createKnex, createRedis, type Knex, type Redis, TrafficRecorder } from '@strangler/foundation';
import { freshDatabase, lockFlags, type TestDatabase, testServerUrls } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { contextRegistry } from '../../src/stages/contexts.ts';
import { isCaptureInstalled, OUTBOX_TABLE } from '../../src/sync/capture.ts';

/**
 * `pnpm strangler` end to end: the real script in a child process, against a
 * fresh monolith, users-service, products-service and control database each,
 * the run's Redis (own key prefixes) and the run's Unleash (this file owns the
 * flags while it holds the flags lock). The tests run in order: each starts
 * where the one before left the users context.
 */

const CLI = join(REPO_ROOT, 'migrations/src/cli/strangler.ts');
const WORKER = join(REPO_ROOT, 'migrations/src/cli/sync-worker.ts');
const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let monolith: TestDatabase;
let users: TestDatabase;
let products: TestDatabase;
let control: TestDatabase;
let monolithKnex: Knex;
let usersKnex: Knex;
let productsKnex: Knex;
let controlKnex: Knex;
let redis: Redis;
let api: UnleashAdminApi;
let release: () => Promise<void>;
let env: Record<string, string>;
const prefix = `test-strangler-${randomUUID().slice(0, 8)}`;

async function strangler(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A failure: the exit code, and a first stderr line that says what is wrong; no stack trace. */
function expectError(result: Result, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr + result.stdout).toBe(code);
  expect(result.stderr.split('\n')[0]).toMatch(/^error: /);
  expect(result.stderr.split('\n')[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

function expectOk(result: Result): void {
  expect(result.code, result.stderr + result.stdout).toBe(0);
}

async function resetUsersFlags(): Promise<void> {
  for (const kind of ['writes', 'reads', 'shadow'] as const) await api.disable(flagName('users', kind));
  await api.setRollout(flagName('users', 'reads'), 0);
  await api.setRollout(flagName('users', 'shadow'), 0);
}

async function usersFlags() {
  const all = await api.listFlags();
  const get = (kind: string) => all.find((f) => f.name === `strangler.users.${kind}`);
  return { shadow: get('shadow'), reads: get('reads'), writes: get('writes') };
}

const forwardChannel = () =>
  contextRegistry({
    monolithUrl: monolith.url,
    usersUrl: users.url,
    productsUrl: products.url,
    redisUrl: env.REDIS_URL ?? '',
  }).users.channels.forward;

async function insertUser(name: string): Promise<number> {
  const [row] = await monolithKnex('users')
    .insert({ email: `${name.toLowerCase().replace(/ /g, '.')}@example.test`, full_name: name, password_hash: 'x' })
    .returning('id');
  return (row as { id: number }).id;
}

beforeAll(async () => {
  release = await lockFlags();
  [monolith, users, products, control] = await Promise.all([
    freshDatabase('monolith'),
    freshDatabase('users'),
    freshDatabase('products'),
    freshDatabase('control'),
  ]);
  monolithKnex = createKnex({ url: monolith.url, pool: { max: 2 } });
  usersKnex = createKnex({ url: users.url, pool: { max: 2 } });
  productsKnex = createKnex({ url: products.url, pool: { max: 2 } });
  controlKnex = createKnex({ url: control.url, pool: { max: 2 } });
  for (const name of ['Ada Lovelace', 'Alan Turing', 'Grace Hopper', 'Edsger Dijkstra', 'Barbara Liskov']) {
    await insertUser(name);
  }
  const { redisUrl } = testServerUrls();
  redis = createRedis({ url: redisUrl, role: 'client' });
  api = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
  await resetUsersFlags();
  env = {
    PATH: process.env.PATH ?? '',
    STRANGLER_DATABASE_URL: control.url,
    DATABASE_URL: monolith.url,
    USERS_DATABASE_URL: users.url,
    PRODUCTS_DATABASE_URL: products.url,
    REDIS_URL: redisUrl,
    SYNC_QUEUE_PREFIX: prefix,
    TRAFFIC_KEY_PREFIX: `${prefix}:traffic`,
    FENCE_KEY_PREFIX: `${prefix}:fence`,
    UNLEASH_URL: inject('unleashUrl'),
    UNLEASH_ADMIN_TOKEN: inject('unleashAdminToken'),
    USER: 'e2e-tester',
  };
});

afterAll(async () => {
  if (api) await resetUsersFlags().catch(() => {});
  await release?.();
  if (redis) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  await Promise.all([monolithKnex?.destroy(), usersKnex?.destroy(), productsKnex?.destroy(), controlKnex?.destroy()]);
  await Promise.all([monolith?.drop(), users?.drop(), products?.drop(), control?.drop()]);
});

describe('pnpm strangler', () => {
  it('prints help and exits 0, globally and per command', async () => {
    const [global, advance] = await Promise.all([strangler('--help'), strangler('advance', '--help')]);
    expectOk(global);
    for (const command of ['status', 'advance', 'rollback', 'canary', 'reconcile', 'history']) {
      expect(global.stdout).toContain(command);
    }
    expectOk(advance);
    expect(advance.stdout).toMatch(/^Usage: pnpm strangler advance <context>/);
  });

  it('rejects a bad command line with one line and exit 2, before touching any server', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['status', 'orders'], /unknown context "orders"; the contexts are users, products/],
      [['advance'], /advance takes <context>, got none/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['canary', 'users', 'lots'], /the percent must be a whole number from 0 to 100/],
      [['advance', 'users', '--fast'], /unknown option --fast/],
      [['advance', 'users', '--force'], /--force needs --reason/],
    ];
    const results = await Promise.all(cases.map(([args]) => strangler(...args)));
    results.forEach((result, i) => {
      expectError(result, 2, cases[i]?.[1] ?? /never/);
    });
  });

  it('shows a fresh setup: both contexts at legacy, capture not installed', async () => {
    const result = await strangler('status');
    expectOk(result);
    expect(result.stdout).toMatch(/^users: legacy/m);
    expect(result.stdout).toMatch(/capture +not installed/);
    expect(result.stdout).toMatch(/backfill +not started/);
    expect(result.stdout).toMatch(/^products: legacy/m);
    expect(result.stdout).toMatch(/^ +channel +products-forward$/m);
    expect(result.stdout.match(/capture +not installed/g)).toHaveLength(2);
    expect(result.stdout).toMatch(/^routers +none report to the write fence/m);
  });

  it('advances users to sync: capture installed, every user backfilled, a reconcile recorded with drift 0', async () => {
    const result = await strangler('advance', 'users', '--reason', 'start the users extraction');
    expectOk(result);
    expect(result.stdout).toContain('users: legacy → sync (gate met)');
    expect(result.stdout).toContain('backfill of users: 5 rows read, 5 inserted');
    expect(result.stdout).toContain('reconcile of users-forward: drift 0');
    expect(result.stdout).toContain('pnpm sync:worker users');
    const channel = forwardChannel();
    if (!channel) throw new Error('users has no forward channel');
    expect(await isCaptureInstalled(monolithKnex, channel)).toBe(true);
    expect(await usersKnex('users').orderBy('id').pluck('first_name')).toEqual([
      'Ada',
      'Alan',
      'Grace',
      'Edsger',
      'Barbara',
    ]);
    expect(await controlKnex('strangler_reconcile_runs').select('channel', 'drift', 'actor')).toEqual([
      { channel: 'users-forward', drift: 0, actor: 'e2e-tester' },
    ]);
  });

  it('refuses sync → shadow with the reason and the numbers when a change has not reached the service', async () => {
    const id = await insertUser('Katherine Johnson');
    const reconciled = await strangler('reconcile', 'users');
    expectOk(reconciled);
    expect(reconciled.stdout).toContain('drift 1 (1 missing, 0 extra, 0 different)');
    expect(reconciled.stdout).toContain(`users missing: ${id}`);

    const refused = await strangler('advance', 'users');
    expectError(refused, 1, /^error: users stays at sync: the gate to shadow is not met$/);
    expect(refused.stderr).toContain('- drift is 1 rows; it must be 0 (reconcile --repair)');
    expect(refused.stderr).toContain('--force --reason');
    expect((await strangler('status', 'users')).stdout).toMatch(/^users: sync/m);
  });

  it('forces it with --force --reason, loudly, and records the override with the gate', async () => {
    const forced = await strangler('advance', 'users', '--force', '--reason', 'testing the override');
    expectOk(forced);
    expect(forced.stderr).toContain('WARNING: forcing users sync → shadow past an unmet gate');
    expect(forced.stdout).toContain('users: sync → shadow (FORCED)');
    const history = JSON.parse((await strangler('history', 'users', '--json')).stdout);
    expect(history[0]).toMatchObject({
      fromStage: 'sync',
      toStage: 'shadow',
      forced: true,
      actor: 'e2e-tester',
      reason: 'testing the override',
      // Under load the waiting change may also be over the lag bound by now; the drift is what this test made.
      gate: {
        ok: false,
        reasons: expect.arrayContaining(['drift is 1 rows; it must be 0 (reconcile --repair)']),
        inputs: { drift: 1 },
      },
    });
  });

  it('shows the stage and the flags in status --json, and Unleash agrees', async () => {
    const result = await strangler('status', 'users', '--json');
    expectOk(result);
    const [users] = JSON.parse(result.stdout).contexts;
    expect(users.stage.stage).toBe('shadow');
    expect(users.flags).toMatchObject({ shadowPercent: 100, readPercent: 0, writeOwner: 'monolith', mismatch: [] });
    expect(users.sync).toMatchObject({ channel: 'users-forward', capture: { installed: true }, deadLetters: 0 });
    expect(users.sync.capture.lag.unappliedRows).toBe(1);
    expect(users.next).toMatchObject({ stage: 'canary', ok: false, reasons: ['only 0 shadow comparisons; need 200'] });
    const flags = await usersFlags();
    expect(flags.shadow).toMatchObject({ enabled: true, rolloutPercent: 100 });
    expect(flags.reads).toMatchObject({ enabled: false });
    expect(flags.writes).toMatchObject({ enabled: false });
  });

  it('refuses canary outside the canary stage', async () => {
    expectError(await strangler('canary', 'users', '25'), 1, /users is at shadow: the canary % can only be set/);
  });

  it('runs the sync worker until SIGTERM; the waiting change is applied and the drift is 0 again', async () => {
    const worker: ChildProcess = spawn(process.execPath, [WORKER, 'users'], { cwd: REPO_ROOT, env });
    let out = '';
    worker.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    worker.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = once(worker, 'exit');
    const deadline = Date.now() + 15_000;
    while (!/applied \+1/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    worker.kill('SIGTERM');
    const [code] = await exited;
    expect(out).toContain('users-forward (forward): relay and 4 apply workers running');
    expect(out).toMatch(/applied \+1/);
    expect(code, out).toBe(0);
    const reconciled = await strangler('reconcile', 'users');
    expect(reconciled.stdout).toContain('reconcile of users-forward: drift 0');
  });

  it('advances shadow → canary when the routers report enough consistent comparisons, then sets the %', async () => {
    const recorder = new TrafficRecorder(redis, { prefix: `${prefix}:traffic` });
    for (let i = 0; i < 250; i++) recorder.shadow('users', 'match');
    await recorder.close();
    const advanced = await strangler('advance', 'users', '--reason', 'shadow is clean');
    expectOk(advanced);
    expect(advanced.stdout).toContain('users: shadow → canary (gate met)');
    expect(await usersFlags()).toMatchObject({ reads: { enabled: true, rolloutPercent: 10 } });

    expectOk(await strangler('canary', 'users', '25'));
    expect(await usersFlags()).toMatchObject({ reads: { enabled: true, rolloutPercent: 25 } });
    const refused = await strangler('advance', 'users');
    expectError(refused, 1, /users stays at canary: the gate to reads is not met/);
    expect(refused.stderr).toContain('only 0 service requests in the window; need 200 to compare');

    const history = await strangler('history', 'users');
    expect(history.stdout.split('\n').slice(1, 4).join('\n')).toMatch(
      /canary at 25 % +e2e-tester +canary 10 % → 25 %\n.*shadow → canary \(10 %\) +e2e-tester +shadow is clean\n.*sync → shadow +e2e-tester +yes +testing the override/,
    );
  });

  it('refuses a flags-only move while the writes flag contradicts the stage (an unfinished cutover)', async () => {
    await api.setRollout(flagName('users', 'writes'), 100);
    await api.enable(flagName('users', 'writes'));
    try {
      const refused = await strangler('rollback', 'users');
      expectError(
        refused,
        1,
        /users stays at canary: its flags give the writes to the service, but canary gives them to the monolith/,
      );
      expect(refused.stderr).toContain('`pnpm strangler advance users` finishes it');
    } finally {
      await api.disable(flagName('users', 'writes'));
    }
  });

  it('moves products on its own while users stays at canary: to sync with prices in cents, and back', async () => {
    await monolithKnex('products').insert([
      { sku: 'LAMP-1', name: 'Desk lamp', price: '25.00', stock: 4 },
      { sku: 'MUG-1', name: 'Mug', description: 'Stoneware', price: '9.99', stock: 12 },
    ]);
    const advanced = await strangler('advance', 'products', '--reason', 'start the products extraction');
    expectOk(advanced);
    expect(advanced.stdout).toContain('products: legacy → sync (gate met)');
    expect(advanced.stdout).toContain('backfill of products: 2 rows read, 2 inserted');
    expect(advanced.stdout).toContain('reconcile of products-forward: drift 0');
    expect(await productsKnex('products').orderBy('id').select('sku', 'price_cents', 'stock')).toEqual([
      { sku: 'LAMP-1', price_cents: 2500, stock: 4 },
      { sku: 'MUG-1', price_cents: 999, stock: 12 },
    ]);

    const both = JSON.parse((await strangler('status', '--json')).stdout).contexts as Array<{
      context: string;
      stage: { stage: string };
      sync: { channel: string };
    }>;
    expect(both.map((c) => [c.context, c.stage.stage, c.sync.channel])).toEqual([
      ['users', 'canary', 'users-forward'],
      ['products', 'sync', 'products-forward'],
    ]);

    const back = await strangler('rollback', 'products', '--reason', 'products can wait');
    expectOk(back);
    expect(back.stdout).toContain('products: sync → legacy (rollback)');
    const after = JSON.parse((await strangler('status', '--json')).stdout).contexts as Array<{
      context: string;
      stage: { stage: string; canaryPercent: number };
    }>;
    expect(after.map((c) => [c.context, c.stage.stage])).toEqual([
      ['users', 'canary'],
      ['products', 'legacy'],
    ]);
    expect(after[0]?.stage.canaryPercent).toBe(25);
  });

  it('rolls back to legacy one stage at a time: flags reset, capture removed, the outbox kept', async () => {
    for (const expected of ['canary → shadow', 'shadow → sync', 'sync → legacy']) {
      const result = await strangler('rollback', 'users', '--reason', 'end of the test');
      expectOk(result);
      expect(result.stdout).toContain(`users: ${expected} (rollback)`);
    }
    const channel = forwardChannel();
    if (!channel) throw new Error('users has no forward channel');
    expect(await isCaptureInstalled(monolithKnex, channel)).toBe(false);
    expect(await monolithKnex.schema.hasTable(OUTBOX_TABLE)).toBe(true);
    const flags = await usersFlags();
    expect(flags.shadow).toMatchObject({ enabled: false, rolloutPercent: 0 });
    expect(flags.reads).toMatchObject({ enabled: false, rolloutPercent: 0 });
    expect(flags.writes).toMatchObject({ enabled: false });
    const [users] = JSON.parse((await strangler('status', 'users', '--json')).stdout).contexts;
    expect(users.stage).toMatchObject({ stage: 'legacy', canaryPercent: 0 });
    expect(users.sync).toMatchObject({ capture: { installed: false }, reconcile: null });
    expectError(await strangler('rollback', 'users'), 1, /legacy is the first stage/);
  });
});
