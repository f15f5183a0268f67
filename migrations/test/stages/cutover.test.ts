import { randomUUID } from 'node:crypto';
import {
  createKnex,
  createRedis,
  FenceCoordinator,
  FenceMember,
  type Knex,
  type Redis,
  type WriteOwner,
} from '@strangler/foundation';
import { freshDatabase, type TestDatabase, testServerUrls } from '@strangler/foundation/testing';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ContextChannels, contextRegistry } from '../../src/stages/contexts.ts';
import { CutoverAbortedError, type CutoverDeps, cutover } from '../../src/stages/cutover.ts';
import { flagsForStage, type StageFlags } from '../../src/stages/stages.ts';
import { ApplyWorker } from '../../src/sync/apply-worker.ts';
import { installCapture, isCaptureInstalled } from '../../src/sync/capture.ts';
import { queueNameOf, queuePrefixOf } from '../../src/sync/channel.ts';
import { openSyncDatabases, type SyncDatabases } from '../../src/sync/databases.ts';
import { OutboxRelay } from '../../src/sync/relay.ts';

/**
 * The cutover against real Postgres and Redis, with routers played by
 * in-process fence members whose flags the test controls: the paths the
 * journey test cannot force (a router that never completes the hold, one that
 * never sees the new owner) each end with nothing changed.
 */

const queuePrefix = `test-cutover-${randomUUID().slice(0, 8)}`;
let monolithDb: TestDatabase;
let usersDb: TestDatabase;
let monolith: Knex;
let service: Knex;
let channels: ContextChannels;
let forwardDb: SyncDatabases;
let reverseDb: SyncDatabases;
let redis: Redis;
const members: FenceMember[] = [];
const flows: Array<{ stop(): Promise<unknown> }> = [];

beforeAll(async () => {
  [monolithDb, usersDb] = await Promise.all([freshDatabase('monolith'), freshDatabase('users')]);
  monolith = createKnex({ url: monolithDb.url, pool: { max: 2 } });
  service = createKnex({ url: usersDb.url, pool: { max: 2 } });
  const { redisUrl } = testServerUrls();
  redis = createRedis({ url: redisUrl, role: 'client' });
  channels = contextRegistry({
    monolithUrl: monolithDb.url,
    usersUrl: usersDb.url,
    // Only the users channels are used here.
    productsUrl: 'postgres://127.0.0.1:1/unused',
    redisUrl,
    queuePrefix,
  }).users.channels as ContextChannels;
  forwardDb = openSyncDatabases(channels.forward);
  reverseDb = openSyncDatabases(channels.reverse);
  await installCapture(monolith, channels.forward);
  const relay = new OutboxRelay(channels.forward, { pollIntervalMs: 50 });
  const worker = new ApplyWorker(channels.forward, { concurrency: 2 });
  await relay.start();
  await worker.start();
  flows.push(relay, { stop: () => worker.close() });
});

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.close()));
});

afterAll(async () => {
  await Promise.all(flows.map((f) => f.stop()));
  for (const channel of [channels.forward, channels.reverse]) {
    const queue = new Queue(queueNameOf(channel), {
      connection: { url: channel.redisUrl },
      prefix: queuePrefixOf(channel),
    });
    await queue.obliterate({ force: true });
    await queue.close();
  }
  const keys = await redis.keys(`${queuePrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await Promise.all([forwardDb.close(), reverseDb.close(), monolith.destroy(), service.destroy()]);
  await Promise.all([monolithDb.drop(), usersDb.drop()]);
});

/** A router: its flags give the writes to `owner()`. */
async function router(prefix: string, owner: () => WriteOwner): Promise<FenceMember> {
  const member = new FenceMember(redis, {
    prefix,
    contexts: ['users'],
    owners: () => ({ users: owner() }),
    timings: { intervalMs: 20 },
  });
  await member.start();
  members.push(member);
  return member;
}

function deps(prefix: string, setFlags: (flags: StageFlags) => Promise<void>): CutoverDeps {
  return {
    context: 'users',
    draining: { channel: channels.forward, db: forwardDb },
    starting: { channel: channels.reverse, db: reverseDb },
    newOwner: 'service',
    flags: flagsForStage('writes', 100),
    previousFlags: flagsForStage('reads', 100),
    fence: new FenceCoordinator(redis, { prefix, timings: { intervalMs: 20 } }),
    setFlags,
    actor: 'test',
    bounds: { holdMs: 1_500, drainMs: 1_000, maxLagSecondsToStart: 5 },
    print: () => {},
  };
}

async function addUsers(n: number): Promise<number[]> {
  const rows = await monolith('users')
    .insert(
      Array.from({ length: n }, () => ({
        email: `${randomUUID()}@example.test`,
        full_name: 'Cut Over',
        password_hash: 'x',
      })),
    )
    .returning('id');
  return rows.map((r: { id: number }) => r.id);
}

describe('the write cutover', () => {
  it('holds every router, drains, hands the sequence over, switches the owner, releases', async () => {
    const prefix = `${queuePrefix}:fence:ok`;
    let flagOwner: WriteOwner = 'monolith';
    await router(prefix, () => flagOwner);
    await router(prefix, () => flagOwner);
    const ids = await addUsers(20);
    const switched: StageFlags[] = [];
    const report = await cutover(
      deps(prefix, async (flags) => {
        switched.push(flags);
        flagOwner = flags.writeOwner;
      }),
    );
    expect(report.routers).toBe(2);
    expect(switched).toEqual([flagsForStage('writes', 100)]);
    // Every change made before the hold is in the service, and its next id is past every id used.
    expect(await service('users').whereIn('id', ids).count<{ count: number }[]>('* as count')).toEqual([{ count: 20 }]);
    const maxId = Math.max(...ids);
    expect(report.sequences).toEqual([{ table: 'users', next: maxId + 1 }]);
    const [inserted] = await service('users')
      .insert({ email: `${randomUUID()}@example.test`, first_name: 'New', last_name: 'Owner', password_hash: 'x' })
      .returning('id');
    expect(inserted.id).toBe(maxId + 1);
    expect(await isCaptureInstalled(service, channels.reverse)).toBe(true);
    expect(await new FenceCoordinator(redis, { prefix }).currentHold('users')).toBeNull();
  });

  it('aborts when a router still has a write in flight at the end of the budget, changing nothing', async () => {
    const prefix = `${queuePrefix}:fence:busy`;
    const busy = await router(prefix, () => 'monolith');
    await router(prefix, () => 'monolith');
    const done = await busy.admit('users'); // a write that never finishes
    const switched: StageFlags[] = [];
    const failure = await cutover(
      deps(prefix, async (flags) => {
        switched.push(flags);
      }),
    ).catch((err: unknown) => err);
    done();
    expect(failure).toBeInstanceOf(CutoverAbortedError);
    expect((failure as Error).message).toMatch(
      new RegExp(
        `every router holding the writes of users did not happen within \\d+ ms; still waiting for ${busy.id}`,
      ),
    );
    expect((failure as Error).message).toMatch(/the writes stay with the monolith/);
    expect(switched).toEqual([]);
    expect(await new FenceCoordinator(redis, { prefix }).currentHold('users')).toBeNull();
    await busy.tick(); // its next look at the fence: released
    expect(busy.isHeld('users')).toBe(false);
  });

  it('puts the flags back before releasing when a router never sees the new owner', async () => {
    const prefix = `${queuePrefix}:fence:stuck`;
    let flagOwner: WriteOwner = 'monolith';
    await router(prefix, () => flagOwner);
    await router(prefix, () => 'monolith'); // its flags never change
    const switched: StageFlags[] = [];
    const failure = await cutover(
      deps(prefix, async (flags) => {
        switched.push(flags);
        flagOwner = flags.writeOwner;
      }),
    ).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CutoverAbortedError);
    expect((failure as Error).message).toMatch(/every router seeing the service as the owner of users/);
    expect(switched).toEqual([flagsForStage('writes', 100), flagsForStage('reads', 100)]);
    expect(flagOwner).toBe('monolith');
    expect(await new FenceCoordinator(redis, { prefix }).currentHold('users')).toBeNull();
  });

  it('refuses to cut over when no router reports to the fence, unless forced', async () => {
    const prefix = `${queuePrefix}:fence:empty`;
    let switched = 0;
    const refused = await cutover(
      deps(prefix, async () => {
        switched++;
      }),
    ).catch((err: unknown) => err);
    expect((refused as Error).message).toMatch(/no router reports to the write fence, so no write can be held/);
    expect(switched).toBe(0);
    const lines: string[] = [];
    const forced = await cutover({
      ...deps(prefix, async () => {
        switched++;
      }),
      allowNoRouters: true,
      print: (line) => lines.push(line),
    });
    expect(forced.routers).toBe(0);
    expect(switched).toBe(1);
    expect(lines[0]).toMatch(/^WARNING: no router reports to the write fence/);
  });

  it('refuses a second cutover of the same context while one holds it', async () => {
    const prefix = `${queuePrefix}:fence:twice`;
    const coordinator = new FenceCoordinator(redis, { prefix });
    const hold = await coordinator.hold('users', 'someone else', 10_000);
    await router(prefix, () => 'monolith');
    const failure = await cutover(deps(prefix, async () => {})).catch((err: unknown) => err);
    expect((failure as Error).message).toMatch(/already held by someone else/);
    expect((await coordinator.currentHold('users'))?.epoch).toBe(hold.epoch);
    await coordinator.release(hold);
  });
});
