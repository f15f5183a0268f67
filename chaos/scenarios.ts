import { flagName, UnleashAdminApi } from '@strangler/flags';
import { createRedis } from '@strangler/foundation';
import { client } from '@strangler/foundation/testing';
import { type ChaosStack, type FaultContext, type Scenario, SEEDED_USERS, SERVICE_TIMEOUT_MS } from './harness.ts';
import { dropConnections } from './infra.ts';

/**
 * The faults, one per scenario, in the order the suite runs them: the stack
 * goes legacy → sync → shadow → canary → reads once, and each scenario
 * runs at the stage it needs. docs/reliability.md says what each one
 * promises; the suite writes the measured tables there.
 */

/** Load before each fault, and after its end. */
const WARMUP_MS = 1_500;
const AFTER_MS = 4_000;
/** How long the users service stays dead before it is started again. */
const SERVICE_DOWN_MS = 3_000;
/** How long Redis stays dead: shorter than the routers' 20 s isolation bound, so writes keep flowing. */
const REDIS_DOWN_MS = 5_000;
/** The one minute without Unleash. */
const UNLEASH_DOWN_MS = 60_000;
/** How long the service answers slowly, and how slowly (past the router's SERVICE_TIMEOUT_MS). */
const SLOW_MS = 4_000;
const SLOW_DELAY_MS = SERVICE_TIMEOUT_MS + 500;
/** Rounds of pg_terminate_backend on the service database, this far apart. */
const DROP_ROUNDS = 3;
const DROP_EVERY_MS = 1_000;
/** The drain bound of the cutover that must abort. */
const ABORT_DRAIN_MS = 800;
/** The guarded rollout's scenario: the service's reads this much slower (under the router's timeout), judged over this policy. */
const GUARD_DELAY_MS = 600;
const GUARD_POLICY_ENV = { GUARD_WINDOW_SECONDS: '30', GUARD_MIN_REQUESTS: '30' };
const GUARD_WITHIN_MS = 45_000;

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const backfillKilled: Scenario = {
  id: 'backfill-killed',
  title: 'The backfill SIGKILLed in the middle of a batch, then run again',
  stage: 'sync',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  runsOwnMove: true,
  async inject({ stack, note, faultEnds }: FaultContext) {
    // `pnpm strangler advance` from legacy installs capture and backfills in its own process.
    const cli = stack.spawnStrangler(['advance', 'users', '--reason', 'chaos: a backfill that is killed']);
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    const atKill = await poll('the backfill to be midway', 60_000, async () => {
      if (cli.exitCode !== null) return 'finished' as const;
      const row = await stack
        .service('strangler_sync_state')
        .where({ channel: 'users-forward' })
        .first('rows_done', 'finished_at');
      return row && Number(row.rows_done) > 0 && row.finished_at === null ? Number(row.rows_done) : null;
    });
    if (atKill === 'finished') {
      throw new Error(`the backfill ended (exit ${cli.exitCode}) before it could be killed; raise SEEDED_USERS`);
    }
    cli.kill('SIGKILL');
    await exited;
    note(
      `the backfill was SIGKILLed with ${atKill.toLocaleString('en-US')} of ${SEEDED_USERS.toLocaleString('en-US')} rows checkpointed`,
    );
    faultEnds();
    const resumed = await stack.advance('sync', { reason: 'chaos: the backfill again' });
    stack.stage = 'sync';
    const line = /backfill of users: ([\d,]+) rows read[^\n]*/.exec(resumed.stdout);
    note(`run again: ${line?.[0] ?? 'no backfill line'}`);
    // Resumed from the checkpoint: it read fewer rows than the monolith holds.
    const read = Number((line?.[1] ?? 'NaN').replace(/,/g, ''));
    if (!(read < SEEDED_USERS))
      throw new Error(`the backfill run again did not resume: ${line?.[0] ?? resumed.stdout}`);
  },
};

/** Sessions on the service database (the suite's own checks aside) waiting for a lock. */
async function waitingForLock(stack: ChaosStack): Promise<number> {
  const { rows } = await stack.service.raw<{ rows: Array<{ n: number }> }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'
        AND application_name <> 'strangler-test-checks'`,
  );
  return rows[0]?.n ?? 0;
}

export const workerKilled: Scenario = {
  id: 'worker-killed',
  title: 'The sync worker SIGKILLed in the middle of an apply, then restarted',
  stage: 'sync',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  async inject({ stack, note, faultEnds }: FaultContext) {
    // Catch an apply midway: hold one user's row in the service, change that user in the monolith,
    // and wait until the worker's apply transaction is blocked on the row. Killed there, its jobs stay
    // locked to the dead worker until BullMQ's stalled check gives them to the new one.
    const id = Number((await stack.service('users').min<{ id: number }[]>('id as id'))[0]?.id);
    const hold = await stack.service.transaction();
    try {
      await hold('users').where({ id }).forUpdate().first('id');
      await stack
        .monolith('users')
        .where({ id })
        .update({ full_name: `Held Apply ${Date.now()}` });
      const blocked = await poll('an apply blocked on the held row', 20_000, async () => {
        const n = await waitingForLock(stack);
        return n > 0 ? n : null;
      });
      await stack.worker.kill('SIGKILL');
      note(`SIGKILLed the sync worker while ${blocked} apply transaction(s) of it waited in the service database`);
    } finally {
      await hold.rollback();
    }
    faultEnds();
    await stack.worker.start();
  },
};

export const redisKilled: Scenario = {
  id: 'redis-killed',
  title: 'Redis SIGKILLed while capture flows, restarted empty',
  stage: 'sync',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  async inject({ stack, sleep, faultEnds }: FaultContext) {
    await stack.redis.kill();
    await sleep(REDIS_DOWN_MS);
    faultEnds();
    await stack.redis.restart();
  },
};

/** The users service SIGKILLed, then started again: at canary it serves some reads, at writes it owns the writes. */
const serviceKilledAt = (stage: 'canary' | 'writes', id: string, title: string): Scenario => ({
  id,
  title,
  stage,
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  async inject({ stack, sleep, faultEnds }: FaultContext) {
    await stack.serviceProcess.kill('SIGKILL');
    await sleep(SERVICE_DOWN_MS);
    faultEnds();
    await stack.serviceProcess.start();
  },
});

/** The users service answering late, past the router's timeout, for SLOW_MS. */
const serviceSlowAt = (stage: 'canary' | 'writes', id: string, title: string): Scenario => ({
  id,
  title,
  stage,
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  async inject({ stack, sleep, faultEnds }: FaultContext) {
    stack.proxy.delayMs = SLOW_DELAY_MS;
    await sleep(SLOW_MS);
    faultEnds();
    stack.proxy.delayMs = 0;
  },
});

export const serviceKilled = serviceKilledAt(
  'canary',
  'service-killed',
  'The users service SIGKILLed during canary, then restarted',
);

export const serviceConnectionsDropped: Scenario = {
  id: 'service-db-connections-dropped',
  title: "Every connection to the users service's database terminated (pg_terminate_backend)",
  stage: 'canary',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  async inject({ stack, sleep, note }: FaultContext) {
    const dropped: number[] = [];
    for (let i = 0; i < DROP_ROUNDS; i++) {
      if (i > 0) await sleep(DROP_EVERY_MS);
      dropped.push(await dropConnections(stack.postgresUrl, stack.serviceDb.name));
    }
    note(`terminated ${dropped.join(' + ')} backend(s) of the service database`);
  },
};

export const serviceSlow = serviceSlowAt(
  'canary',
  'service-slow',
  `The users service answering ${SLOW_DELAY_MS} ms late, past the router's ${SERVICE_TIMEOUT_MS} ms timeout`,
);

export const unleashStopped: Scenario = {
  id: 'unleash-stopped',
  title: 'The Unleash server stopped for a minute, then started',
  stage: 'canary',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  // Invariant 4: the routers keep the flags they last knew, so the canary goes on.
  promises: (r) =>
    r.serviceReads.during > 0
      ? []
      : ['the service answered no read while Unleash was down: the canary flags were lost'],
  async inject({ stack, sleep, faultEnds, note }: FaultContext) {
    await stack.unleash.stop();
    await sleep(UNLEASH_DOWN_MS);
    faultEnds();
    const started = Date.now();
    await stack.unleash.restart();
    note(`Unleash answered again ${((Date.now() - started) / 1000).toFixed(1)} s after its start`);
  },
};

/** The flags of the users context as Unleash has them: what a cutover that aborts must leave unchanged. */
async function usersFlags(stack: ChaosStack): Promise<string> {
  const api = new UnleashAdminApi({ url: stack.unleash.url, token: stack.unleash.adminToken });
  const flags = await api.listFlags();
  return JSON.stringify(
    (['shadow', 'reads', 'writes'] as const).map((kind) => flags.find((f) => f.name === flagName('users', kind))),
  );
}

export const cutoverAborted: Scenario = {
  id: 'cutover-aborted',
  title: `A write cutover whose drain cannot finish within ${ABORT_DRAIN_MS} ms`,
  stage: 'reads',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  async inject({ stack, note, faultEnds }: FaultContext) {
    const flagsBefore = await usersFlags(stack);
    // Nothing applies the forward changes now, and one is pending: the drain cannot finish.
    await stack.worker.stop();
    const pending = await client(stack.routerUrls[0] as string)('POST', '/api/users/register', {
      body: {
        email: `chaos.pending.${process.pid}.${Date.now()}@example.test`,
        password: 'pw-chaos-1',
        name: 'Pending',
      },
    });
    if (pending.status !== 201) throw new Error(`the pending write got ${pending.status}`);
    const aborted = await stack.strangler(['advance', 'users', '--reason', 'chaos: a cutover that must abort'], {
      CUTOVER_DRAIN_MS: String(ABORT_DRAIN_MS),
      CUTOVER_MAX_LAG_SECONDS: '60',
    });
    faultEnds();
    await stack.worker.start();
    const reason = /users stays at reads[^\n]*/.exec(aborted.stderr)?.[0];
    if (aborted.code !== 1 || !reason || !/The cutover was aborted; the writes stay with the monolith/.test(reason)) {
      throw new Error(`the cutover did not abort cleanly (exit ${aborted.code}):\n${aborted.stderr}${aborted.stdout}`);
    }
    note(`\`pnpm strangler advance\` exited 1: ${reason.split('; ')[0]}; the cutover was aborted`);
    const stage = await stack.stageOf();
    const flagsAfter = await usersFlags(stack);
    const redis = createRedis({ url: stack.redis.url, role: 'client' });
    const held = await redis.exists(`${stack.cliEnv.FENCE_KEY_PREFIX}:hold:users`).finally(() => redis.disconnect());
    if (stage !== 'reads') throw new Error(`the aborted cutover left users at ${stage}`);
    if (flagsAfter !== flagsBefore)
      throw new Error(`the aborted cutover changed the flags: ${flagsBefore} → ${flagsAfter}`);
    if (held !== 0) throw new Error('the aborted cutover left the write fence holding the writes of users');
    note('after it: stage reads, flags unchanged, no hold left on the write fence');
  },
};

export const routerRestarted: Scenario = {
  id: 'router-restarted',
  title: 'One of the two routers restarted (SIGTERM, then started) under write-heavy load',
  stage: 'reads',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  load: { shoppers: 6, visitors: 2 },
  connectionsMayBreak: true,
  async inject({ stack, faultEnds, note }: FaultContext) {
    const router = stack.routers[0];
    if (!router) throw new Error('no router');
    const started = Date.now();
    await router.stop();
    note(`router-0 closed in ${Date.now() - started} ms`);
    faultEnds();
    await router.start();
  },
};

export const guardSetsBack: Scenario = {
  id: 'guard-sets-back',
  title: `The guarded rollout: the service's reads ${GUARD_DELAY_MS} ms slower at reads, judged by two guards at once`,
  stage: 'reads',
  warmupMs: WARMUP_MS,
  afterMs: AFTER_MS,
  async inject({ stack, note, faultEnds, sleep }: FaultContext) {
    // Slower, not failing: the router still takes the service's answers, the guard sees its p99.
    stack.proxy.delayMs = GUARD_DELAY_MS;
    const started = Date.now();
    let setBack: string | undefined;
    try {
      while (setBack === undefined) {
        if (Date.now() - started > GUARD_WITHIN_MS) {
          throw new Error(`no guard set the reads back within ${GUARD_WITHIN_MS / 1000} s of the service slowing down`);
        }
        // Two guard processes judge at the same moment, as two replicas would: the move lock lets one act.
        const runs = await Promise.all([0, 1].map(() => stack.strangler(['guard', 'users'], GUARD_POLICY_ENV)));
        for (const run of runs) {
          if (run.code !== 0) throw new Error(`strangler guard failed (exit ${run.code}): ${run.stderr}`);
        }
        setBack = runs.map((r) => /users at reads: SET BACK[^\n]*/.exec(r.stdout)?.[0]).find(Boolean);
        if (setBack === undefined) await sleep(2_000);
      }
    } finally {
      stack.proxy.delayMs = 0;
    }
    faultEnds();
    note(
      `set back ${((Date.now() - started) / 1000).toFixed(1)} s after the service slowed: ${setBack.split(' (service ')[0]}`,
    );
    const stage = await stack.stageOf();
    if (stage !== 'canary') throw new Error(`the guard's setback left users at ${stage}, not canary`);
    stack.stage = 'canary';
    const history = JSON.parse((await stack.strangler(['history', 'users', '--json'])).stdout) as Array<{
      actor: string;
    }>;
    const byGuard = history.filter((h) => h.actor === 'guard').length;
    if (byGuard !== 1) throw new Error(`the guards recorded ${byGuard} setbacks; one bad episode makes one`);
    note('one setback recorded, by guard, with the numbers; users back at canary');
  },
};

export const serviceKilledAtWrites = serviceKilledAt(
  'writes',
  'service-killed-at-writes',
  'The users service SIGKILLed while it owns the writes, then restarted',
);

export const serviceSlowAtWrites = serviceSlowAt(
  'writes',
  'service-slow-at-writes',
  `The users service answering ${SLOW_DELAY_MS} ms late while it owns the writes`,
);

/** Every scenario, in the order the suite runs them (each stage's after the previous stage's). */
export const SCENARIOS: readonly Scenario[] = [
  backfillKilled,
  workerKilled,
  redisKilled,
  serviceKilled,
  serviceConnectionsDropped,
  serviceSlow,
  unleashStopped,
  cutoverAborted,
  routerRestarted,
  serviceKilledAtWrites,
  serviceSlowAtWrites,
  // Back to reads (the write cutover in reverse), where the guard watches.
  guardSetsBack,
];
