import { randomUUID } from 'node:crypto';
import { UnleashAdminApi } from '@strangler/flags';
import {
  createKnex,
  createRedis,
  FenceCoordinator,
  type Knex,
  type Redis,
  TrafficRecorder,
} from '@strangler/foundation';
import { freshDatabase, lockFlags, type TestDatabase, testServerUrls } from '@strangler/foundation/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { runStranglerCli } from '../../src/cli/strangler/run.ts';
import { setFlags } from '../../src/stages/effects.ts';
import { DEFAULT_GUARD_POLICY } from '../../src/stages/guard.ts';
import { type GuardDeps, guardContext } from '../../src/stages/guard-run.ts';
import { flagsFromState } from '../../src/stages/plan.ts';
import { measureFlags } from '../../src/stages/probes.ts';
import { flagsForStage, type Stage } from '../../src/stages/stages.ts';
import { StageStore } from '../../src/stages/store.ts';

/**
 * The guarded rollout against real servers: the stage history in Postgres,
 * the routers' shared traffic counts in Redis (written by two recorders, as
 * two router processes would), the flags in the run's Unleash.
 */

let release: () => Promise<void>;
let redis: Redis;
let unleash: UnleashAdminApi;
let db: TestDatabase;
let control: Knex;
let stages: StageStore;
let deps: GuardDeps;
let prefix: string;

beforeAll(async () => {
  release = await lockFlags();
  redis = createRedis({ url: testServerUrls().redisUrl, role: 'client' });
  unleash = new UnleashAdminApi({ url: inject('unleashUrl'), token: inject('unleashAdminToken') });
});
afterAll(async () => {
  await setFlags(unleash, 'users', flagsForStage('legacy', 0), () => {});
  redis.disconnect();
  await release();
});

beforeEach(async () => {
  db = await freshDatabase('control');
  control = createKnex({ url: db.url });
  stages = new StageStore(control);
  prefix = `test:guard:${randomUUID()}`;
  deps = {
    db: control,
    redis,
    trafficPrefix: `${prefix}:traffic`,
    unleash,
    fence: new FenceCoordinator(redis, { prefix: `${prefix}:fence` }),
    policy: DEFAULT_GUARD_POLICY,
    // The counts below land in a bucket after the last move's (the guard leaves that one out).
    now: () => Date.now() + 20_000,
  };
});
afterEach(async () => {
  await control.destroy();
  await db.drop();
});

/** Walks users to `stage` through the given canary %s, with the flags to match. */
async function arriveAt(stage: Stage, percents: number[]): Promise<void> {
  const path: Array<[Stage, Stage, number]> = [
    ['legacy', 'sync', 0],
    ['sync', 'shadow', 0],
    ...percents.map((p, i): [Stage, Stage, number] => [i === 0 ? 'shadow' : 'canary', 'canary', p]),
  ];
  if (stage === 'reads') path.push(['canary', 'reads', percents.at(-1) ?? 0]);
  for (const [from, to, canaryPercent] of path) {
    await stages.record({
      context: 'users',
      from,
      to,
      canaryPercent,
      actor: 'test',
      reason: 'setup',
      forced: false,
      gate: {},
    });
  }
  await setFlags(unleash, 'users', flagsForStage(stage, percents.at(-1) ?? 0), () => {});
}

/** Two routers' worth of reads: `n` per side per router, `serviceErrors` failed at the service. */
async function traffic(
  at: number,
  {
    n,
    serviceErrors = 0,
    serviceMs = 5,
    sides = ['service', 'monolith'],
  }: { n: number; serviceErrors?: number; serviceMs?: number; sides?: ReadonlyArray<'service' | 'monolith'> },
): Promise<void> {
  const routers = [0, 1].map(() => new TrafficRecorder(redis, { prefix: deps.trafficPrefix, now: () => at }));
  for (const [r, router] of routers.entries()) {
    for (let i = 0; i < n; i++) {
      if (sides.includes('service')) router.request('users', 'service', i < serviceErrors / 2, serviceMs, true);
      if (sides.includes('monolith')) router.request('users', 'monolith', false, 5, true);
      // Writes are counted apart: a slow, failing write at the monolith is not a read to compare with.
      if (r === 0 && i < 20) router.request('users', 'monolith', true, 2000, false);
    }
  }
  await Promise.all(routers.map((router) => router.close()));
}

const readsFlag = async () => flagsFromState((await measureFlags(unleash, 'users')).states);

describe('the guard', () => {
  it('sets a worse canary back to the previous step once, however many guards judge it at the same time', async () => {
    await arriveAt('canary', [10, 25]);
    await traffic(deps.now?.() as number, { n: 150, serviceErrors: 60 });

    const checks = await Promise.all([
      guardContext(deps, 'users'),
      guardContext(deps, 'users'),
      guardContext(deps, 'users'),
    ]);
    const setbacks = checks.filter((c) => c.action && 'setback' in c.action);
    expect(setbacks).toHaveLength(1);
    expect(checks.every((c) => c.verdict.kind === 'worse')).toBe(true);

    expect(await stages.get('users')).toMatchObject({ stage: 'canary', canaryPercent: 10 });
    expect(await readsFlag()).toMatchObject({ readPercent: 10, writeOwner: 'monolith' });
    const [entry] = await stages.history('users', 1);
    expect(entry).toMatchObject({ actor: 'guard', fromStage: 'canary', toStage: 'canary', canaryPercent: 10 });
    expect(entry?.reason).toContain("service error rate 20.00 % is worse than the monolith's 0.00 %");
    expect(entry?.gate).toMatchObject({
      guard: { numbers: { service: { requests: 300, errors: 60 }, monolith: { requests: 300, errors: 0 } } },
    });
  });

  it('leaves a service that is no worse alone', async () => {
    await arriveAt('canary', [10, 25]);
    await traffic(deps.now?.() as number, { n: 150, serviceErrors: 2 });
    const check = await guardContext(deps, 'users');
    expect(check.verdict.kind).toBe('healthy');
    expect(check.action).toBeNull();
    expect(await stages.get('users')).toMatchObject({ stage: 'canary', canaryPercent: 25 });
    expect(await readsFlag()).toMatchObject({ readPercent: 25 });
  });

  it('judges nothing on too few reads, however bad they are', async () => {
    await arriveAt('canary', [10]);
    await traffic(deps.now?.() as number, { n: 40, serviceErrors: 80 });
    const check = await guardContext(deps, 'users');
    expect(check.verdict).toMatchObject({ kind: 'waiting', reason: expect.stringContaining('80 service reads') });
    expect(await stages.get('users')).toMatchObject({ stage: 'canary', canaryPercent: 10 });
  });

  it('at reads, compares with what the monolith served before the stage, and goes back to the canary it came from', async () => {
    await arriveAt('reads', [10, 50]);
    const arrival = (await stages.lastArrivalAt('users', 'reads'))?.getTime() as number;
    await traffic(arrival - 15_000, { n: 150, sides: ['monolith'] });
    await traffic(deps.now?.() as number, { n: 150, serviceMs: 900, sides: ['service'] });

    const check = await guardContext(deps, 'users');
    expect(check.verdict).toMatchObject({ kind: 'worse', numbers: { baseline: 'before-move' } });
    expect(check.verdict.kind === 'worse' && check.verdict.reasons).toEqual([
      "service p99 1000 ms is worse than the monolith's 5 ms by more than 250 ms",
    ]);
    expect(await stages.get('users')).toMatchObject({ stage: 'canary', canaryPercent: 50 });
    expect(await readsFlag()).toMatchObject({ readPercent: 50, shadowPercent: 100, writeOwner: 'monolith' });
  });

  it('at reads with no monolith reads before the move either, compares with the baseline a guard remembered', async () => {
    await arriveAt('canary', [10, 25]);
    const t1 = Date.now() + 20_000;
    await traffic(t1, { n: 150 });
    expect((await guardContext({ ...deps, now: () => t1 }, 'users')).verdict.kind).toBe('healthy');
    // To writes and back: before that last move the monolith served no reads.
    for (const [from, to] of [
      ['canary', 'reads'],
      ['reads', 'writes'],
      ['writes', 'reads'],
    ] as const) {
      await stages.record({
        context: 'users',
        from,
        to,
        canaryPercent: 25,
        actor: 'test',
        reason: 'setup',
        forced: false,
        gate: {},
      });
    }
    await setFlags(unleash, 'users', flagsForStage('reads', 25), () => {}, ['reads', 'shadow']);
    const t2 = Date.now() + 200_000;
    await traffic(t2, { n: 150, serviceErrors: 100, sides: ['service'] });

    const check = await guardContext({ ...deps, now: () => t2 }, 'users');
    expect(check.verdict).toMatchObject({
      kind: 'worse',
      numbers: { baseline: 'remembered', monolith: { requests: 300 } },
    });
    expect(check.action).toMatchObject({ setback: { to: { percent: 25 } } });
    expect(await stages.get('users')).toMatchObject({ stage: 'canary', canaryPercent: 25 });
  });

  it('does not touch the flags while a write cutover holds the writes', async () => {
    await arriveAt('canary', [10, 25]);
    await traffic(deps.now?.() as number, { n: 150, serviceErrors: 100 });
    const hold = await deps.fence.hold('users', 'a cutover', 10_000);
    try {
      const check = await guardContext(deps, 'users');
      expect(check.action).toEqual({ skipped: expect.stringContaining('write cutover holds the writes of users') });
      expect(await stages.get('users')).toMatchObject({ canaryPercent: 25 });
      expect(await readsFlag()).toMatchObject({ readPercent: 25 });
    } finally {
      await deps.fence.release(hold);
    }
  });

  it('waits for an operator’s move in progress instead of interleaving with it', async () => {
    await arriveAt('canary', [10, 25]);
    await traffic(deps.now?.() as number, { n: 150, serviceErrors: 100 });
    // An operator's command holds the move lock (stages/move-lock.ts) on another connection.
    const operator = await control.transaction();
    try {
      await operator.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['strangler:move:users']);
      const check = await guardContext(deps, 'users');
      expect(check.action).toEqual({ skipped: expect.stringContaining('another move of users is in progress') });
      expect(await readsFlag()).toMatchObject({ readPercent: 25 });
    } finally {
      await operator.rollback();
    }
    expect((await guardContext(deps, 'users')).action).toMatchObject({ setback: { to: { percent: 10 } } });
  });

  it('is a command: status shows the verdict, `guard` acts and says so, the history names it', async () => {
    await arriveAt('canary', [10, 25]);
    // The CLI judges on the clock: count in the bucket after the move's.
    await new Promise((r) => setTimeout(r, 10_000 - (Date.now() % 10_000) + 100));
    await traffic(Date.now(), { n: 150, serviceErrors: 100 });
    const env = {
      STRANGLER_DATABASE_URL: db.url,
      REDIS_URL: testServerUrls().redisUrl,
      TRAFFIC_KEY_PREFIX: deps.trafficPrefix,
      FENCE_KEY_PREFIX: `${prefix}:fence`,
      UNLEASH_URL: inject('unleashUrl'),
      UNLEASH_ADMIN_TOKEN: inject('unleashAdminToken'),
    };
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runStranglerCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const status = await run('status', 'users');
    expect(status.out).toMatch(/guard +WORSE: service error rate 33\.33 %/);

    const guard = await run('guard', 'users');
    expect(guard).toMatchObject({ code: 0, err: '' });
    expect(guard.out).toContain('users at canary 25 %: SET BACK to canary 10 %');
    expect((await run('history', 'users')).out).toMatch(/canary at 10 % +guard/);
    expect((await run('status', 'users')).out).toMatch(/last setback .*canary → canary at 10 %/);
    // The bad reads came before the setback: the next check judges only what comes after it.
    expect((await run('guard', 'users')).out).toContain('users at canary 10 %: waiting for traffic: 0 service reads');
    expect(await stages.history('users', 10, 'guard')).toHaveLength(1);
    expect(await run('guard', '--interval', '5')).toMatchObject({ code: 2, err: expect.stringContaining('--watch') });
    // An operator's move takes the same lock before it reads the stage: while a guard (here, a held lock) moves users, it is refused.
    const guardMoving = await control.transaction();
    try {
      await guardMoving.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['strangler:move:users']);
      for (const argv of [
        ['canary', 'users', '30'],
        ['rollback', 'users'],
        ['advance', 'users'],
      ]) {
        expect(await run(...argv)).toMatchObject({
          code: 1,
          err: expect.stringContaining('another move of users is in progress'),
        });
      }
    } finally {
      await guardMoving.rollback();
    }
    expect(await stages.get('users')).toMatchObject({ stage: 'canary', canaryPercent: 10 });
  }, 60_000);
});
