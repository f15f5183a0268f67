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
import { OUTBOX_TABLE } from '../../src/sync/capture.ts';
import { reconcile } from '../../src/sync/reconcile.ts';
import { DelayProxy } from './delay-proxy.ts';
import { type Failure, LoadGenerator, type LoadReport } from './load.ts';
import { type CliResult, type Stack, type StackOptions, startStack } from './stack.ts';

/**
 * One extraction under live traffic, every process real: ShopCo, the
 * context's service (behind a TCP proxy that can slow it), two edge routers
 * (sharing the write fence and the traffic counts through Redis), the sync
 * workers (by default one; a spec may ask for several relays and several
 * apply workers, which then coordinate through Postgres and Redis only), the
 * run's Unleash, and `pnpm strangler` in a child process for every move. The
 * context's workload keeps writing and reading through both routers from the
 * first move to the last:
 *
 *   legacy → sync → shadow → canary → reads → (with `guardedRollout`: the
 *   service slowed until one of two `pnpm strangler guard --watch` sets the
 *   reads back to canary, then reads again) → (an aborted cutover) → writes
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
  /** The `pnpm sync:worker` processes by role; by default one that runs both. */
  workers?: StackOptions['workers'];
  /** At `reads`, slow the service until one of two guard processes sets the reads back, once (ADR 0015). */
  guardedRollout?: boolean;
}

/** The guarded rollout's trigger: the service's answers this much later, under the routers' 2 s service timeout. */
const GUARD_DELAY_MS = 600;
/** A policy sized for a test: the shortest window the guard allows, and few reads. */
const GUARD_ENV = { GUARD_WINDOW_SECONDS: '10', GUARD_MIN_REQUESTS: '20' };
const GUARD_WITHIN_MS = 45_000;

/** `<channel>: stopped; relayed N (requeued M)` lines of a relay's log: what it relayed in each of its runs. */
async function relayedBy(logFile: string, channel: string): Promise<{ relayed: number; requeued: number }> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const total = { relayed: 0, requeued: 0 };
  for (const m of text.matchAll(new RegExp(`${channel}: stopped; relayed (\\d+) \\(requeued (\\d+)\\)`, 'g'))) {
    total.relayed += Number(m[1]);
    total.requeued += Number(m[2]);
  }
  return total;
}

export function defineJourney(spec: JourneySpec): void {
  const CONTEXT = spec.context;
  const prefix = `test-journey-${CONTEXT}-${randomUUID().slice(0, 8)}`;
  let workload: Workload;

  let stack: Stack;
  let proxy: DelayProxy | undefined;
  let redis: Redis;
  let api: UnleashAdminApi;
  let releaseFlags: () => Promise<void>;
  let logDir: string;
  let load: LoadGenerator;
  let report: LoadReport;
  const journal: string[] = [];

  /**
   * The gates' environment. After the guarded rollout's slowdown, the shortest window (the current 10 s
   * bucket): the slowed reads must not count against the service in the next gates, and with the
   * journey's 60 s window they would for a minute.
   */
  let gateEnv: Record<string, string> = {};

  async function advance(to: string): Promise<CliResult> {
    const result = await stack.advance(to, { reason: `journey to ${to}`, env: gateEnv });
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
      // Longer than the default 5 s: this test stops the sync workers for a few seconds on purpose.
      routerEnv: { READ_YOUR_WRITES_SECONDS: '20' },
      serviceFront: async (serviceUrl) => {
        proxy = await DelayProxy.start(serviceUrl);
        return proxy.url;
      },
      ...(spec.workers ? { workers: spec.workers } : {}),
      ...(spec.guardedRollout ? { guards: { count: 2, intervalSeconds: 2, env: GUARD_ENV } } : {}),
    });
    // The workers run for the whole journey; each starts each direction once its capture exists.
    await stack.startWorkers();

    load = new LoadGenerator({ routers: stack.routerUrls, pauseMs: 15 });
    workload = await spec.startLoad({ monolith: stack.monolith, service: stack.service, load });
  }, 120_000);

  afterAll(async () => {
    await load?.stop();
    await stack?.stop();
    await proxy?.close();
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
        for (const w of stack.workers) console.error(`${w.name}:\n${await tail(w.logFile)}`);
        throw err;
      }
    }, 240_000);

    // Only the journeys that run the guarded rollout have this step (not defined, so not skipped, elsewhere).
    if (spec.guardedRollout) {
      it('sets the reads back once when the service slows at reads: one of two guards acts, the flags follow', async () => {
        const slow = proxy as DelayProxy;
        await Promise.all(stack.guards.map((g) => g.start()));
        slow.delayMs = GUARD_DELAY_MS;
        const started = Date.now();
        let setBack: string | undefined;
        try {
          while (setBack === undefined) {
            if (Date.now() - started > GUARD_WITHIN_MS) {
              throw new Error(`no guard set the reads back within ${GUARD_WITHIN_MS / 1000} s of the service slowing`);
            }
            await new Promise((r) => setTimeout(r, 50));
            for (const g of stack.guards) {
              const line = /[^\n]*at reads: SET BACK[^\n]*/.exec(await readFile(g.logFile, 'utf8').catch(() => ''));
              setBack ??= line?.[0];
            }
          }
        } finally {
          // At once: the next judgement counts only traffic after the setback, and it must find a healthy service.
          slow.delayMs = 0;
        }
        const tookMs = Date.now() - started;
        // SIGTERM: a watching guard finishes its round and exits 0.
        await Promise.all(stack.guards.map((g) => g.stop()));
        expect(stack.guards.map((g) => g.exitCode)).toEqual(stack.guards.map(() => 0));
        journal.push(`guard set the reads back ${tookMs} ms after the service slowed, at ${load.requests} requests`);

        expect(await stack.stageOf()).toBe('canary');
        const history = JSON.parse((await stack.strangler(['history', CONTEXT, '--json'])).stdout) as Array<{
          actor: string;
          fromStage: string;
          toStage: string;
        }>;
        const byGuard = history.filter((h) => h.actor === 'guard');
        expect(byGuard.map((h) => `${h.fromStage}→${h.toStage}`)).toEqual(['reads→canary']);
        // Back to the canary % it came from: the reads flag on at 50 %, the writes flag untouched.
        const flags = await api.listFlags();
        const reads = flags.find((f) => f.name === flagName(CONTEXT, 'reads'));
        expect({ enabled: reads?.enabled, rollout: reads?.rolloutPercent }).toEqual({ enabled: true, rollout: 50 });
        expect(flags.find((f) => f.name === flagName(CONTEXT, 'writes'))?.enabled).toBe(false);

        // Forward again, the gates from now on reading the current bucket only (see gateEnv).
        gateEnv = { GATE_WINDOW_SECONDS: '10' };
        await stack.advance('reads', { reason: 'journey: the service is well again', env: gateEnv });
        journal.push(`advance → reads again at ${load.requests} requests`);
        expect(await stack.stageOf()).toBe('reads');
      }, 120_000);
    }

    it('aborts a cutover whose drain cannot finish, holding writes only briefly and changing nothing', async () => {
      await stack.stopWorkers(); // nothing applies the forward changes now
      await spec.pendingWrite(client(stack.routerUrls[0] as string));
      const before = load.requests;
      const abortEnv = { ...gateEnv, CUTOVER_DRAIN_MS: '800', CUTOVER_MAX_LAG_SECONDS: '60' };
      let aborted = await stack.strangler(
        ['advance', CONTEXT, '--reason', 'journey: a cutover that must abort'],
        abortEnv,
      );
      // A short gate window may hold too few requests yet (a bucket just began): the gate refuses, nothing is held.
      for (let tries = 0; /the gate to writes is not met/.test(aborted.stderr) && tries < 40; tries++) {
        await new Promise((r) => setTimeout(r, 500));
        aborted = await stack.strangler(
          ['advance', CONTEXT, '--reason', 'journey: a cutover that must abort'],
          abortEnv,
        );
      }
      await stack.startWorkers();
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

      // The relays shared the outbox: every forward change was relayed by exactly one of them (a requeue aside).
      await stack.stopWorkers();
      expect(stack.workers.map((w) => w.exitCode)).toEqual(stack.workers.map(() => 0));
      const name = stack.channels.forward.name;
      const relays = stack.workers.filter((w) => !/-apply-/.test(w.name));
      const counts = await Promise.all(relays.map((w) => relayedBy(w.logFile, name)));
      const rows = await stack.monolith(OUTBOX_TABLE).where({ channel: name }).count<{ n: string }[]>('* as n');
      const relayed = counts.reduce((sum, c) => sum + c.relayed - c.requeued, 0);
      journal.push(`${name}: ${rows[0]?.n} changes captured, relayed ${counts.map((c) => c.relayed).join(' + ')}`);
      expect(relayed).toBe(Number(rows[0]?.n));
      await stack.startWorkers();

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
      const forwardMoves = STAGES.slice(1).flatMap((s, i) =>
        // The guard's setback and the move forward again.
        spec.guardedRollout && s === 'reads' ? ['canary→reads', 'reads→canary', 'canary→reads'] : [`${STAGES[i]}→${s}`],
      );
      const backMoves = [...STAGES]
        .reverse()
        .slice(1)
        .map((s, i) => `${[...STAGES].reverse()[i]}→${s}`);
      expect(moves).toEqual([...forwardMoves, ...backMoves]);
    }, 60_000);
  });
}
