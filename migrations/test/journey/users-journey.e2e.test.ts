import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { flagName, REPO_ROOT, UnleashAdminApi } from '@strangler/flags';
import { createKnex, createRedis, type Knex, type Redis } from '@strangler/foundation';
import {
  client,
  freePort,
  freshDatabase,
  lockFlags,
  type TestDatabase,
  testServerUrls,
} from '@strangler/foundation/testing';
import { joinName } from '@strangler/users-service/name';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ManagedProcess, startProcess, waitUntilReady } from '../../../scripts/lib/processes.ts';
import { type ContextChannels, contextRegistry } from '../../src/stages/contexts.ts';
import { STAGES } from '../../src/stages/stages.ts';
import { captureLag } from '../../src/sync/outbox.ts';
import { reconcile } from '../../src/sync/reconcile.ts';
import { LoadGenerator, type LoadReport } from './load.ts';

/**
 * The whole users extraction under live traffic, every process real: ShopCo,
 * the users service, two edge routers (sharing the write fence and the
 * traffic counts through Redis), a sync worker, the run's Unleash, and
 * `pnpm strangler` in a child process for every move. A load generator keeps
 * registering, updating, logging in, reading and ordering through both
 * routers from the first move to the last:
 *
 *   legacy → sync → shadow → canary → reads → (an aborted cutover) → writes
 *   → complete → writes → reads → canary → shadow → sync → legacy
 *
 * Then: reconcile finds zero drift in both directions, every write that got
 * a 2xx is in both databases, ids never collided, and nothing got a 5xx
 * except a write held past the routers' bound during a cutover (503
 * ROUTER_WRITES_HELD, documented in docs/errors.md).
 */

const CLI = join(REPO_ROOT, 'migrations/src/cli/strangler.ts');
const WORKER = join(REPO_ROOT, 'migrations/src/cli/sync-worker.ts');
const run = promisify(execFile);
const CONTEXT = 'users';
const prefix = `test-journey-${randomUUID().slice(0, 8)}`;

let monolithDb: TestDatabase;
let serviceDb: TestDatabase;
let controlDb: TestDatabase;
let monolithKnex: Knex;
let serviceKnex: Knex;
let redis: Redis;
let api: UnleashAdminApi;
let releaseFlags: () => Promise<void>;
let logDir: string;
let channels: ContextChannels;
let cliEnv: Record<string, string>;
let worker: ManagedProcess | null = null;
const processes: ManagedProcess[] = [];
const routerUrls: string[] = [];
let load: LoadGenerator;
let report: LoadReport;
const journal: string[] = [];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function strangler(args: string[], extraEnv: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...cliEnv, ...extraEnv },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Advances once the gate is met. Gates read live numbers (shadow samples,
 * service requests, the last reconcile), so a refusal is retried while the
 * load produces them; a drift refusal runs a reconcile first.
 */
async function advance(to: string, timeoutMs = 60_000): Promise<Result> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await strangler(['advance', CONTEXT, '--reason', `journey to ${to}`]);
    if (result.code === 0) {
      journal.push(`advance → ${to} at ${load.requests} requests`);
      expect(result.stdout).toContain(`${CONTEXT} is now at ${to}`);
      return result;
    }
    const gateUnmet = /the gate to \w+ is not met/.test(result.stderr);
    if (!gateUnmet || Date.now() > deadline) {
      throw new Error(`advance to ${to} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
    }
    if (/drift is|no reconcile has run/.test(result.stderr)) await strangler(['reconcile', CONTEXT]);
    else await sleep(500);
  }
}

async function rollback(to: string): Promise<Result> {
  const result = await strangler(['rollback', CONTEXT, '--reason', `journey back to ${to}`]);
  expect(result.code, result.stderr + result.stdout).toBe(0);
  expect(result.stdout).toContain(`${CONTEXT} is now at ${to}`);
  journal.push(`rollback → ${to} at ${load.requests} requests`);
  return result;
}

async function stageOf(): Promise<string> {
  const status = await strangler(['status', CONTEXT, '--json']);
  expect(status.code, status.stderr).toBe(0);
  return JSON.parse(status.stdout).contexts[0].stage.stage;
}

async function resetFlags(): Promise<void> {
  for (const kind of ['writes', 'reads', 'shadow'] as const) await api.disable(flagName(CONTEXT, kind));
  await api.setRollout(flagName(CONTEXT, 'reads'), 0);
  await api.setRollout(flagName(CONTEXT, 'shadow'), 0);
}

async function waitForDrain(channel: ContextChannels['forward'], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = await captureLag(channel);
    if (lag.unappliedRows === 0) return;
    if (Date.now() > deadline) throw new Error(`${channel.name} still has ${lag.unappliedRows} unapplied changes`);
    await sleep(100);
  }
}

async function tail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-30).join('\n');
}

beforeAll(async () => {
  releaseFlags = await lockFlags();
  logDir = await mkdtemp(join(tmpdir(), 'strangler-journey-'));
  [monolithDb, serviceDb, controlDb] = await Promise.all([
    freshDatabase('monolith'),
    freshDatabase('users'),
    freshDatabase('control'),
  ]);
  monolithKnex = createKnex({ url: monolithDb.url, pool: { max: 3 } });
  serviceKnex = createKnex({ url: serviceDb.url, pool: { max: 3 } });
  const { redisUrl } = testServerUrls();
  redis = createRedis({ url: redisUrl, role: 'client' });
  api = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
  await resetFlags();

  // Users that exist before the extraction starts (the backfill copies them), and products to order.
  await monolithKnex('users').insert(
    Array.from({ length: 40 }, (_, i) => ({
      email: `seeded.${i}@example.test`,
      full_name: i % 7 === 0 ? `Seeded${i}` : `Seeded User ${i}`,
      password_hash: 'scrypt$not-a-real-hash',
    })),
  );
  await monolithKnex('products').insert(
    Array.from({ length: 5 }, (_, i) => ({
      sku: `JOURNEY-${i}`,
      name: `Journey product ${i}`,
      description: 'for the journey test',
      price: '9.99',
      stock: 1_000_000,
    })),
  );

  channels = contextRegistry({
    monolithUrl: monolithDb.url,
    usersUrl: serviceDb.url,
    // Only the users channels are used here.
    productsUrl: 'postgres://127.0.0.1:1/unused',
    redisUrl,
    queuePrefix: prefix,
  }).users.channels;

  const [monolithPort, servicePort, routerA, routerB] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const monolithUrl = `http://127.0.0.1:${monolithPort}`;
  const serviceUrl = `http://127.0.0.1:${servicePort}`;
  const common = { NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1' };
  const monolith = startProcess(
    'shopco',
    join(REPO_ROOT, 'monolith/src/server.ts'),
    { ...common, PORT: String(monolithPort), DATABASE_URL: monolithDb.url },
    join(logDir, 'shopco.log'),
  );
  const service = startProcess(
    'users-service',
    join(REPO_ROOT, 'extracted/users/src/server.ts'),
    { ...common, PORT: String(servicePort), DATABASE_URL: serviceDb.url },
    join(logDir, 'users-service.log'),
  );
  processes.push(monolith, service);
  for (const [i, port] of [routerA, routerB].entries()) {
    const router = startProcess(
      `router-${i}`,
      join(REPO_ROOT, 'edge-router/src/server.ts'),
      {
        ...common,
        PORT: String(port),
        MONOLITH_URL: monolithUrl,
        USERS_SERVICE_URL: serviceUrl,
        UNLEASH_URL: inject('unleashUrl'),
        UNLEASH_CLIENT_TOKEN: inject('unleashClientToken'),
        FLAG_REFRESH_MS: '250',
        FLAG_BACKUP_PATH: join(logDir, `flags-backup-${i}.json`),
        REDIS_URL: redisUrl,
        TRAFFIC_KEY_PREFIX: `${prefix}:traffic`,
        FENCE_KEY_PREFIX: `${prefix}:fence`,
        // Longer than the default 5 s: this test stops the sync worker for a few seconds on purpose.
        READ_YOUR_WRITES_SECONDS: '20',
      },
      join(logDir, `router-${i}.log`),
    );
    processes.push(router);
    routerUrls.push(`http://127.0.0.1:${port}`);
  }
  await Promise.all([
    waitUntilReady(monolith, `${monolithUrl}/ready`),
    waitUntilReady(service, `${serviceUrl}/ready`),
    ...routerUrls.map((url, i) => waitUntilReady(processes[2 + i] as ManagedProcess, `${url}/ready`)),
  ]);

  cliEnv = {
    PATH: process.env.PATH ?? '',
    STRANGLER_DATABASE_URL: controlDb.url,
    DATABASE_URL: monolithDb.url,
    USERS_DATABASE_URL: serviceDb.url,
    REDIS_URL: redisUrl,
    SYNC_QUEUE_PREFIX: prefix,
    TRAFFIC_KEY_PREFIX: `${prefix}:traffic`,
    FENCE_KEY_PREFIX: `${prefix}:fence`,
    UNLEASH_URL: inject('unleashUrl'),
    UNLEASH_ADMIN_TOKEN: inject('unleashAdminToken'),
    USER: 'journey',
    // Gate thresholds sized for a test that lasts a minute; the production defaults need more traffic.
    GATE_WINDOW_SECONDS: '60',
    GATE_MIN_SHADOW_SAMPLES: '40',
    GATE_MIN_CONSISTENCY: '0.98',
    GATE_MIN_REQUESTS: '40',
    GATE_P99_MARGIN_MS: '500',
    GATE_ERROR_RATE_MARGIN: '0.01',
  };
  // The worker runs for the whole journey; it starts each direction once its capture exists.
  worker = startWorker();

  const seededUserIds = (await monolithKnex('users').orderBy('id').pluck('id')) as number[];
  const productIds = (await monolithKnex('products').orderBy('id').pluck('id')) as number[];
  load = new LoadGenerator({ routers: routerUrls, shoppers: 3, visitors: 2, pauseMs: 15, productIds, seededUserIds });
  load.start();
}, 120_000);

function startWorker(): ManagedProcess {
  return startProcess('sync-worker', WORKER, cliEnv, join(logDir, 'sync-worker.log'), [CONTEXT]);
}

afterAll(async () => {
  await load?.stop();
  await worker?.stop();
  for (const p of [...processes].reverse()) await p.stop().catch(() => {});
  if (api) await resetFlags().catch(() => {});
  await releaseFlags?.();
  if (redis) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  await Promise.all([monolithKnex?.destroy(), serviceKnex?.destroy()]);
  await Promise.all([monolithDb?.drop(), serviceDb?.drop(), controlDb?.drop()]);
  if (logDir) await rm(logDir, { recursive: true, force: true });
}, 120_000);

describe('the users extraction, end to end under load', () => {
  it('goes legacy → … → reads with traffic flowing, the gates met by measured numbers', async () => {
    try {
      const synced = await advance('sync');
      expect(synced.stdout).toMatch(/backfill of users: \d+ rows read/);
      await advance('shadow');
      await advance('canary');
      const canary = await strangler(['canary', CONTEXT, '50', '--reason', 'journey: half the users']);
      expect(canary.code, canary.stderr).toBe(0);
      await advance('reads');
      expect(await stageOf()).toBe('reads');
      const status = await strangler(['status', CONTEXT]);
      expect(status.stdout).toMatch(/^routers +2 report to the write fence$/m);
    } catch (err) {
      console.error(await tail(join(logDir, 'sync-worker.log')));
      throw err;
    }
  }, 240_000);

  it('aborts a cutover whose drain cannot finish, holding writes only briefly and changing nothing', async () => {
    await worker?.stop(); // nothing applies the forward changes now
    const call = client(routerUrls[0] as string);
    const pending = await call('POST', '/api/users/register', {
      body: { email: `pending.${prefix}@example.test`, password: 'correct horse battery', name: 'Pending Change' },
    });
    expect(pending.status).toBe(201);
    const before = load.requests;
    const aborted = await strangler(['advance', CONTEXT, '--reason', 'journey: a cutover that must abort'], {
      CUTOVER_DRAIN_MS: '800',
      CUTOVER_MAX_LAG_SECONDS: '60',
    });
    worker = startWorker();
    journal.push(`aborted cutover at ${before} requests`);
    expect(aborted.code, aborted.stdout).toBe(1);
    expect(aborted.stdout).toContain('writes of users held by 2 router(s)');
    expect(aborted.stderr).toMatch(
      /users stays at reads: the drain of users-forward did not finish within 800 ms: \d+ changes still unapplied.*The cutover was aborted; the writes stay with the monolith/,
    );
    expect(await stageOf()).toBe('reads');
    const writes = (await api.listFlags()).find((f) => f.name === flagName(CONTEXT, 'writes'));
    expect(writes?.enabled).toBe(false);
    expect(await redis.exists(`${prefix}:fence:hold:${CONTEXT}`)).toBe(0);
    await waitForDrain(channels.forward);
  }, 120_000);

  it('cuts the writes over to the service: held, drained, sequences handed over, released', async () => {
    const cutover = await advance('writes');
    expect(cutover.stdout).toContain('writes of users held by 2 router(s)');
    expect(cutover.stdout).toMatch(/drained users-forward: \d+ changes applied in \d+ ms/);
    expect(cutover.stdout).toMatch(/sequence public\.users_id_seq handed over: the next id is \d+/);
    expect(cutover.stdout).toMatch(/writes of users now go to the service; they were held \d+ ms/);
    // New registrations now land in the service first and reach the monolith through the reverse sync.
    const since = load.report.users.size;
    const deadline = Date.now() + 20_000;
    while (load.report.users.size < since + 5 && Date.now() < deadline) await sleep(100);
    const newest = Math.max(...load.report.users.keys());
    const inService = await serviceKnex('users').where({ id: newest }).first();
    expect(inService).toBeDefined();
    await advance('complete');
  }, 120_000);

  it('rolls back step by step to legacy with traffic flowing', async () => {
    await rollback('writes');
    const back = await rollback('reads');
    expect(back.stdout).toMatch(/drained users-reverse: \d+ changes applied/);
    expect(back.stdout).toContain('writes of users now go to the monolith');
    await rollback('canary');
    await rollback('shadow');
    await rollback('sync');
    report = await load.stop();
  }, 120_000);

  it('ends with zero drift both ways, every acknowledged write in both databases, and no 5xx', async () => {
    await waitForDrain(channels.forward);
    await waitForDrain(channels.reverse);
    const forward = await reconcile(channels.forward);
    const reverse = await reconcile(channels.reverse);
    expect({ forward: forward.drift, reverse: reverse.drift }).toEqual({ forward: 0, reverse: 0 });

    const acked = [...report.users.values()];
    expect(acked.length).toBeGreaterThan(20);
    const ids = acked.map((u) => u.id);
    const [inMonolith, inService] = await Promise.all([
      monolithKnex('users').whereIn('id', ids).select('id', 'email', 'full_name'),
      serviceKnex('users').whereIn('id', ids).select('id', 'email', 'first_name', 'last_name'),
    ]);
    const monolithById = new Map(inMonolith.map((r) => [r.id as number, r]));
    const serviceById = new Map(inService.map((r) => [r.id as number, r]));
    const lost: string[] = [];
    for (const user of acked) {
      const m = monolithById.get(user.id);
      const s = serviceById.get(user.id);
      if (m?.email !== user.email || m?.full_name !== user.name) lost.push(`monolith ${user.id}`);
      const serviceName = s ? joinName({ firstName: s.first_name, lastName: s.last_name }) : null;
      if (s?.email !== user.email || serviceName !== user.name) lost.push(`service ${user.id}`);
    }
    expect(lost).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    const orders = await monolithKnex('orders').whereIn('id', report.orders).count<{ count: string }[]>('* as count');
    expect(Number(orders[0]?.count)).toBe(report.orders.length);

    const serverErrors = report.failures.filter((f) => f.status >= 500 || f.status === 0);
    const unexplained = serverErrors.filter((f) => !(f.status === 503 && f.code === 'ROUTER_WRITES_HELD'));
    console.log(
      `journey: ${report.requests} requests, ${report.ackedWrites} acknowledged writes, statuses ${JSON.stringify(report.byStatus)}\n  ${journal.join('\n  ')}`,
    );
    expect(unexplained).toEqual([]);
    // 4xx answers are the client's: wrong input never happens here, so each one is worth a look.
    expect(report.failures.filter((f) => f.status >= 400 && f.status < 500)).toEqual([]);
  }, 120_000);

  it('rolls back to legacy: capture removed, the history holds the whole journey', async () => {
    await rollback('legacy');
    const history = JSON.parse((await strangler(['history', CONTEXT, '--json'])).stdout) as Array<{
      fromStage: string;
      toStage: string;
    }>;
    const moves = history
      .reverse()
      .filter((h) => h.fromStage !== h.toStage)
      .map((h) => `${h.fromStage}→${h.toStage}`);
    const forwardMoves = STAGES.slice(1).map((s, i) => `${STAGES[i]}→${s}`);
    const backMoves = [...STAGES]
      .reverse()
      .slice(1)
      .map((s, i) => `${[...STAGES].reverse()[i]}→${s}`);
    expect(moves).toEqual([...forwardMoves, ...backMoves]);
  }, 60_000);
});
