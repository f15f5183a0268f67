import { randomUUID } from 'node:crypto';
import { testServerUrls } from '@strangler/foundation/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../src/redis.ts';
import {
  FenceCoordinator,
  FenceMember,
  FenceWaitTimeout,
  HoldConflictError,
  type WriteOwner,
  WritesHeldError,
} from '../src/write-fence.ts';

const redis = createRedis({ url: testServerUrls().redisUrl, role: 'client' });
afterAll(() => redis.disconnect());

/** Members stepped by hand (`tick`), so every interleaving is chosen by the test. */
function setup(opts: { holdMaxMs?: number } = {}) {
  const prefix = `test:fence:${randomUUID()}`;
  const owners: Record<string, WriteOwner> = { users: 'monolith', products: 'monolith' };
  const member = (id: string, clock?: () => number) =>
    new FenceMember(redis, {
      id,
      prefix,
      contexts: ['users', 'products'],
      owners: () => ({ ...owners }),
      holdMaxMs: opts.holdMaxMs ?? 2_000,
      timings: { intervalMs: 20 },
      ...(clock ? { now: clock } : {}),
    });
  const coordinator = new FenceCoordinator(redis, { prefix, timings: { intervalMs: 20 } });
  return { prefix, owners, member, coordinator };
}

describe('the write fence', () => {
  it('admits writes at once when nothing is held', async () => {
    const { member } = setup();
    const a = member('a');
    await a.tick();
    const release = await a.admit('users');
    expect(a.inFlight('users')).toBe(1);
    release();
    release(); // twice is harmless
    expect(a.inFlight('users')).toBe(0);
  });

  it('completes a hold only once the writes in flight are done, then holds new ones until release', async () => {
    const { member, coordinator } = setup();
    const a = member('a');
    const b = member('b');
    await Promise.all([a.tick(), b.tick()]);
    const inFlight = await a.admit('users'); // dispatched before the hold

    const hold = await coordinator.hold('users', 'test', 10_000);
    await Promise.all([a.tick(), b.tick()]);
    expect(a.isHeld('users')).toBe(true);
    expect(a.isHeld('products')).toBe(false);
    // a still has a write in flight: the hold is not complete.
    await expect(coordinator.waitHeld(hold, 100)).rejects.toThrow(/still waiting for a \(pid/);

    let admitted = false;
    const held = a.admit('users').then((release) => {
      admitted = true;
      return release;
    });
    await (await a.admit('products'))(); // another context is not held

    inFlight();
    await a.tick();
    const members = await coordinator.waitHeld(hold, 1_000);
    expect(members.map((m) => m.id)).toEqual(['a', 'b']);
    expect(admitted).toBe(false);

    await coordinator.release(hold);
    await a.tick();
    (await held)();
    expect(admitted).toBe(true);
  });

  it('refuses a write held longer than the longest wait', async () => {
    const { member, coordinator } = setup({ holdMaxMs: 150 });
    const a = member('a');
    await coordinator.hold('users', 'test', 10_000);
    await a.tick();
    const started = Date.now();
    await expect(a.admit('users')).rejects.toBeInstanceOf(WritesHeldError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(a.inFlight('users')).toBe(0);
  });

  it('allows one hold per context at a time, and only its owner releases or refreshes it', async () => {
    const { coordinator } = setup();
    const first = await coordinator.hold('users', 'alice', 10_000);
    await expect(coordinator.hold('users', 'bob', 10_000)).rejects.toBeInstanceOf(HoldConflictError);
    await expect(coordinator.hold('users', 'bob', 10_000)).rejects.toThrow(/already held by alice/);
    const stranger = { ...first, epoch: 'not-mine' };
    expect(await coordinator.refresh(stranger, 10_000)).toBe(false);
    await coordinator.release(stranger);
    expect((await coordinator.currentHold('users'))?.epoch).toBe(first.epoch);
    expect(await coordinator.refresh(first, 10_000)).toBe(true);
    await coordinator.release(first);
    expect(await coordinator.currentHold('users')).toBeNull();
  });

  it('lets a hold whose cutover died lapse by itself', async () => {
    const { member, coordinator } = setup();
    const a = member('a');
    await coordinator.hold('users', 'test', 100);
    await a.tick();
    expect(a.isHeld('users')).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    await a.tick();
    expect(a.isHeld('users')).toBe(false);
  });

  it('waits for every router to report the new owner', async () => {
    const { member, coordinator, owners } = setup();
    const a = member('a');
    await a.tick();
    await expect(coordinator.waitOwner('users', 'service', 80)).rejects.toBeInstanceOf(FenceWaitTimeout);
    owners.users = 'service';
    await a.tick();
    expect((await coordinator.waitOwner('users', 'service', 500)).map((m) => m.owners.users)).toEqual(['service']);
  });

  it('blocks a hold on a router that stopped reporting, and forgets it once it is long gone', async () => {
    const { member, coordinator } = setup();
    let clock = Date.now();
    const silent = member('silent', () => clock);
    clock -= 5_000; // its last report is 5 s old: stale, not yet forgotten
    await silent.tick();
    const hold = await coordinator.hold('users', 'test', 10_000);
    await expect(coordinator.waitHeld(hold, 100)).rejects.toThrow(/silent .*last report 5\.\d s ago/);

    clock -= 60_000; // now 65 s old: forgotten
    await silent.tick();
    expect(await coordinator.waitHeld(hold, 100)).toEqual([]);
    expect(await coordinator.members()).toEqual([]);
  });

  it('holds every write of a router cut off from Redis for too long (fail closed)', async () => {
    const { prefix } = setup();
    const broken = createRedis({ url: 'redis://127.0.0.1:1', role: 'client' });
    broken.on('error', () => {});
    let clock = Date.now();
    const errors: string[] = [];
    const a = new FenceMember(broken, {
      id: 'cut-off',
      prefix,
      contexts: ['users'],
      owners: () => ({ users: 'monolith' }),
      holdMaxMs: 50,
      now: () => clock,
      onError: (err) => errors.push(err.message),
    });
    try {
      await a.tick();
      expect(errors.length).toBe(1);
      expect(a.isHeld('users')).toBe(false); // a short outage does not stop writes
      clock += 25_000;
      expect(a.isolated()).toBe(true);
      const refused = await a.admit('users').catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(WritesHeldError);
      expect((refused as WritesHeldError).isolated).toBe(true);
      // Writes of contexts no cutover can move (orders, payments) are never held.
      expect(a.covers('orders')).toBe(false);
      expect(a.isHeld('orders')).toBe(false);
    } finally {
      broken.disconnect();
    }
  });

  it('leaves the members when closed, so a cutover stops waiting for it', async () => {
    const { member, coordinator } = setup();
    const a = member('a');
    await a.start();
    expect((await coordinator.members()).map((m) => m.id)).toEqual(['a']);
    await a.close();
    expect(await coordinator.members()).toEqual([]);
  });
});
