import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { flagName, REPO_ROOT, UnleashAdminApi } from '@strangler/flags';
import { createKnex, createRedis, type Knex, type Redis } from '@strangler/foundation';
import {
  type Call,
  client,
  freePort,
  freshDatabase,
  lockFlags,
  type TestDatabase,
  testServerUrls,
} from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ManagedProcess, startProcess, waitUntilReady } from '../../../scripts/lib/processes.ts';
import { type ContextChannels, type ContextName, contextRegistry } from '../../src/stages/contexts.ts';
import { STAGES } from '../../src/stages/stages.ts';
import { captureLag } from '../../src/sync/outbox.ts';
import { reconcile } from '../../src/sync/reconcile.ts';
import { type Failure, LoadGenerator, type LoadReport } from './load.ts';

/**
 * One extraction under live traffic, every process real: ShopCo, the
 * context's service, two edge routers (sharing the write fence and the
 * traffic counts through Redis), a sync worker, the run's Unleash, and
 * `pnpm strangler` in a child process for every move. The context's workload
 * keeps writing and reading through both routers from the first move to the
 * last:
 *
 *   legacy → sync → shadow → canary → reads → (an aborted cutover) → writes
 *   → complete → writes → reads → canary → shadow → sync → legacy
 *
 * Then: reconcile finds zero drift in both directions, every write that got
 * a 2xx is in both databases (the workload checks its own invariants too),
 * and nothing got a 5xx except a write held past the routers' bound during a
 * cutover (503 ROUTER_WRITES_HELD, documented in docs/errors.md).
 *
 * The same code runs every context's journey: what differs is a JourneySpec.
 */

export interface JourneyStack {
  monolith: Knex;
  service: Knex;
  load: LoadGenerator;
}

/** What a context's workload gives the journey to check. */
export interface Workload {
  /** After the cutover to writes: proof that the context's new writes land in the service first. */
  landsInService(service: Knex): Promise<void>;
  /** At the end, with both syncs drained: every acknowledged write in both databases, and the context's invariants. */
  verify(dbs: { monolith: Knex; service: Knex }): Promise<void>;
  /** Refusals the workload provokes on purpose (not enough stock, a declined card); anything else is a failure. */
  expected(failure: Failure): boolean;
}

export interface JourneySpec {
  context: ContextName;
  /** What the monolith holds before the extraction starts (the backfill copies it). */
  seed(monolith: Knex): Promise<void>;
  /** ShopCo's environment besides its database and port. */
  monolithEnv(stack: {
    serviceUrl: string;
    redisUrl: string;
    fencePrefix: string;
    logDir: string;
  }): Record<string, string>;
  /** Who the cutover reports as having held the writes ("2 router(s)"...). */
  heldBy: string;
  /** Processes on the write fence: the two routers, and ShopCo when its stock follows the context. */
  fenceMembers: number;
  /** Starts the workload's clients on the load generator. */
  startLoad(stack: JourneyStack): Promise<Workload>;
  /** One acknowledged write of the context through a router, for the sync to carry (the aborted cutover). */
  pendingWrite(call: Call): Promise<void>;
}

const CLI = join(REPO_ROOT, 'migrations/src/cli/strangler.ts');
const WORKER = join(REPO_ROOT, 'migrations/src/cli/sync-worker.ts');
const run = promisify(execFile);

export function defineJourney(spec: JourneySpec): void {
  const CONTEXT = spec.context;
  const ENV = CONTEXT.toUpperCase();
  const prefix = `test-journey-${CONTEXT}-${randomUUID().slice(0, 8)}`;
  let workload: Workload;

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
      freshDatabase(CONTEXT),
      freshDatabase('control'),
    ]);
    monolithKnex = createKnex({ url: monolithDb.url, pool: { max: 3 } });
    serviceKnex = createKnex({ url: serviceDb.url, pool: { max: 3 } });
    const { redisUrl } = testServerUrls();
    redis = createRedis({ url: redisUrl, role: 'client' });
    api = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
    await resetFlags();

    await spec.seed(monolithKnex);

    channels = contextRegistry({
      monolithUrl: monolithDb.url,
      // Only this context's channels are used here.
      usersUrl: CONTEXT === 'users' ? serviceDb.url : 'postgres://127.0.0.1:1/unused',
      productsUrl: CONTEXT === 'products' ? serviceDb.url : 'postgres://127.0.0.1:1/unused',
      redisUrl,
      queuePrefix: prefix,
    })[CONTEXT].channels;

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
      {
        ...common,
        PORT: String(monolithPort),
        DATABASE_URL: monolithDb.url,
        ...spec.monolithEnv({ serviceUrl, redisUrl, fencePrefix: `${prefix}:fence`, logDir }),
      },
      join(logDir, 'shopco.log'),
    );
    const service = startProcess(
      `${CONTEXT}-service`,
      join(REPO_ROOT, `extracted/${CONTEXT}/src/server.ts`),
      { ...common, PORT: String(servicePort), DATABASE_URL: serviceDb.url },
      join(logDir, `${CONTEXT}-service.log`),
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
          [`${ENV}_SERVICE_URL`]: serviceUrl,
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
      [`${ENV}_DATABASE_URL`]: serviceDb.url,
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

    load = new LoadGenerator({ routers: routerUrls, pauseMs: 15 });
    workload = await spec.startLoad({ monolith: monolithKnex, service: serviceKnex, load });
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

  describe(`the ${CONTEXT} extraction, end to end under load`, () => {
    it('goes legacy → … → reads with traffic flowing, the gates met by measured numbers', async () => {
      try {
        const synced = await advance('sync');
        expect(synced.stdout).toMatch(new RegExp(`backfill of ${CONTEXT}: \\d+ rows read`));
        await advance('shadow');
        await advance('canary');
        const canary = await strangler(['canary', CONTEXT, '50', '--reason', 'journey: half the users']);
        expect(canary.code, canary.stderr).toBe(0);
        await advance('reads');
        expect(await stageOf()).toBe('reads');
        const status = await strangler(['status', CONTEXT]);
        expect(status.stdout).toMatch(new RegExp(`^routers +${spec.fenceMembers} report to the write fence$`, 'm'));
      } catch (err) {
        console.error(await tail(join(logDir, 'sync-worker.log')));
        throw err;
      }
    }, 240_000);

    it('aborts a cutover whose drain cannot finish, holding writes only briefly and changing nothing', async () => {
      await worker?.stop(); // nothing applies the forward changes now
      await spec.pendingWrite(client(routerUrls[0] as string));
      const before = load.requests;
      const aborted = await strangler(['advance', CONTEXT, '--reason', 'journey: a cutover that must abort'], {
        CUTOVER_DRAIN_MS: '800',
        CUTOVER_MAX_LAG_SECONDS: '60',
      });
      worker = startWorker();
      journal.push(`aborted cutover at ${before} requests`);
      expect(aborted.code, aborted.stdout).toBe(1);
      expect(aborted.stdout).toContain(`writes of ${CONTEXT} held by ${spec.heldBy}`);
      expect(aborted.stderr).toMatch(
        new RegExp(
          `${CONTEXT} stays at reads: the drain of ${CONTEXT}-forward did not finish within 800 ms: \\d+ changes still unapplied.*The cutover was aborted; the writes stay with the monolith`,
        ),
      );
      expect(await stageOf()).toBe('reads');
      const writes = (await api.listFlags()).find((f) => f.name === flagName(CONTEXT, 'writes'));
      expect(writes?.enabled).toBe(false);
      expect(await redis.exists(`${prefix}:fence:hold:${CONTEXT}`)).toBe(0);
      await waitForDrain(channels.forward);
    }, 120_000);

    it('cuts the writes over to the service: held, drained, sequences handed over, released', async () => {
      const cutover = await advance('writes');
      expect(cutover.stdout).toContain(`writes of ${CONTEXT} held by ${spec.heldBy}`);
      expect(cutover.stdout).toMatch(new RegExp(`drained ${CONTEXT}-forward: \\d+ changes applied in \\d+ ms`));
      expect(cutover.stdout).toMatch(
        new RegExp(`sequence public\\.${CONTEXT}_id_seq handed over: the next id is \\d+`),
      );
      expect(cutover.stdout).toMatch(new RegExp(`writes of ${CONTEXT} now go to the service; they were held \\d+ ms`));
      // New writes now land in the service first and reach the monolith through the reverse sync.
      await workload.landsInService(serviceKnex);
      await advance('complete');
    }, 120_000);

    it('rolls back step by step to legacy with traffic flowing', async () => {
      await rollback('writes');
      const back = await rollback('reads');
      expect(back.stdout).toMatch(new RegExp(`drained ${CONTEXT}-reverse: \\d+ changes applied`));
      expect(back.stdout).toContain(`writes of ${CONTEXT} now go to the monolith`);
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

      await workload.verify({ monolith: monolithKnex, service: serviceKnex });

      const serverErrors = report.failures.filter((f) => f.status >= 500 || f.status === 0);
      const unexplained = serverErrors.filter(
        (f) => !(f.status === 503 && f.code === 'ROUTER_WRITES_HELD') && !workload.expected(f),
      );
      console.log(
        `journey: ${report.requests} requests, ${report.ackedWrites} acknowledged writes, statuses ${JSON.stringify(report.byStatus)}\n  ${journal.join('\n  ')}`,
      );
      expect(unexplained).toEqual([]);
      // 4xx answers are the client's: the workload provokes only the ones it declares; any other is worth a look.
      expect(report.failures.filter((f) => f.status >= 400 && f.status < 500 && !workload.expected(f))).toEqual([]);
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
}
