import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagName, UnleashAdminApi } from '@strangler/flags';
import { createRedis, type Knex, type Redis } from '@strangler/foundation';
import { type Call, client, lockFlags, testServerUrls } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ContextName } from '../../src/stages/contexts.ts';
import { STAGES } from '../../src/stages/stages.ts';
import { reconcile } from '../../src/sync/reconcile.ts';
import { type Failure, LoadGenerator, type LoadReport } from './load.ts';
import { type CliResult, type Stack, type StackOptions, startStack } from './stack.ts';

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
 * The processes are started by stack.ts, which the chaos suite shares.
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
  monolithEnv: StackOptions['monolithEnv'];
  /** Who the cutover reports as having held the writes ("2 router(s)"...). */
  heldBy: string;
  /** Processes on the write fence: the two routers, and ShopCo when its stock follows the context. */
  fenceMembers: number;
  /** Starts the workload's clients on the load generator. */
  startLoad(stack: JourneyStack): Promise<Workload>;
  /** One acknowledged write of the context through a router, for the sync to carry (the aborted cutover). */
  pendingWrite(call: Call): Promise<void>;
}

export function defineJourney(spec: JourneySpec): void {
  const CONTEXT = spec.context;
  const prefix = `test-journey-${CONTEXT}-${randomUUID().slice(0, 8)}`;
  let workload: Workload;

  let stack: Stack;
  let redis: Redis;
  let api: UnleashAdminApi;
  let releaseFlags: () => Promise<void>;
  let logDir: string;
  let load: LoadGenerator;
  let report: LoadReport;
  const journal: string[] = [];

  async function advance(to: string): Promise<CliResult> {
    const result = await stack.advance(to, { reason: `journey to ${to}` });
    journal.push(`advance → ${to} at ${load.requests} requests`);
    return result;
  }

  async function rollback(to: string): Promise<CliResult> {
    const result = await stack.rollback(to, { reason: `journey back to ${to}` });
    journal.push(`rollback → ${to} at ${load.requests} requests`);
    return result;
  }

  async function resetFlags(): Promise<void> {
    for (const kind of ['writes', 'reads', 'shadow'] as const) await api.disable(flagName(CONTEXT, kind));
    await api.setRollout(flagName(CONTEXT, 'reads'), 0);
    await api.setRollout(flagName(CONTEXT, 'shadow'), 0);
  }

  async function tail(file: string): Promise<string> {
    const text = await readFile(file, 'utf8').catch(() => '');
    return text.split('\n').slice(-30).join('\n');
  }

  beforeAll(async () => {
    releaseFlags = await lockFlags();
    logDir = await mkdtemp(join(tmpdir(), 'strangler-journey-'));
    const { redisUrl } = testServerUrls();
    redis = createRedis({ url: redisUrl, role: 'client' });
    api = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
    await resetFlags();

    stack = await startStack({
      context: CONTEXT,
      prefix,
      logDir,
      redisUrl,
      unleash: {
        url: inject('unleashUrl'),
        adminToken: inject('unleashAdminToken'),
        clientToken: inject('unleashClientToken'),
      },
      seed: spec.seed,
      monolithEnv: spec.monolithEnv,
      // Longer than the default 5 s: this test stops the sync worker for a few seconds on purpose.
      routerEnv: { READ_YOUR_WRITES_SECONDS: '20' },
    });
    // The worker runs for the whole journey; it starts each direction once its capture exists.
    await stack.worker.start();

    load = new LoadGenerator({ routers: stack.routerUrls, pauseMs: 15 });
    workload = await spec.startLoad({ monolith: stack.monolith, service: stack.service, load });
  }, 120_000);

  afterAll(async () => {
    await load?.stop();
    await stack?.stop();
    if (api) await resetFlags().catch(() => {});
    await releaseFlags?.();
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
    if (logDir) await rm(logDir, { recursive: true, force: true });
  }, 120_000);

  describe(`the ${CONTEXT} extraction, end to end under load`, () => {
    it('goes legacy → … → reads with traffic flowing, the gates met by measured numbers', async () => {
      try {
        const synced = await advance('sync');
        expect(synced.stdout).toMatch(new RegExp(`backfill of ${CONTEXT}: \\d+ rows read`));
        await advance('shadow');
        await advance('canary');
        const canary = await stack.strangler(['canary', CONTEXT, '50', '--reason', 'journey: half the users']);
        expect(canary.code, canary.stderr).toBe(0);
        await advance('reads');
        expect(await stack.stageOf()).toBe('reads');
        const status = await stack.strangler(['status', CONTEXT]);
        expect(status.stdout).toMatch(new RegExp(`^routers +${spec.fenceMembers} report to the write fence$`, 'm'));
      } catch (err) {
        console.error(await tail(stack.worker.logFile));
        throw err;
      }
    }, 240_000);

    it('aborts a cutover whose drain cannot finish, holding writes only briefly and changing nothing', async () => {
      await stack.worker.stop(); // nothing applies the forward changes now
      await spec.pendingWrite(client(stack.routerUrls[0] as string));
      const before = load.requests;
      const aborted = await stack.strangler(['advance', CONTEXT, '--reason', 'journey: a cutover that must abort'], {
        CUTOVER_DRAIN_MS: '800',
        CUTOVER_MAX_LAG_SECONDS: '60',
      });
      await stack.worker.start();
      journal.push(`aborted cutover at ${before} requests`);
      expect(aborted.code, aborted.stdout).toBe(1);
      expect(aborted.stdout).toContain(`writes of ${CONTEXT} held by ${spec.heldBy}`);
      expect(aborted.stderr).toMatch(
        new RegExp(
          `${CONTEXT} stays at reads: the drain of ${CONTEXT}-forward did not finish within 800 ms: \\d+ changes still unapplied.*The cutover was aborted; the writes stay with the monolith`,
        ),
      );
      expect(await stack.stageOf()).toBe('reads');
      const writes = (await api.listFlags()).find((f) => f.name === flagName(CONTEXT, 'writes'));
      expect(writes?.enabled).toBe(false);
      expect(await redis.exists(`${prefix}:fence:hold:${CONTEXT}`)).toBe(0);
      await stack.waitForDrain(stack.channels.forward);
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
      await workload.landsInService(stack.service);
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
      await stack.waitForDrain(stack.channels.forward);
      await stack.waitForDrain(stack.channels.reverse);
      const forward = await reconcile(stack.channels.forward);
      const reverse = await reconcile(stack.channels.reverse);
      expect({ forward: forward.drift, reverse: reverse.drift }).toEqual({ forward: 0, reverse: 0 });

      await workload.verify({ monolith: stack.monolith, service: stack.service });

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
      const history = JSON.parse((await stack.strangler(['history', CONTEXT, '--json'])).stdout) as Array<{
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
