import { randomUUID } from 'node:crypto';
import { testServerUrls } from '@strangler/foundation/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../src/redis.ts';
import { readTrafficWindow, TrafficRecorder } from '../src/traffic-stats.ts';

const redis = createRedis({ url: testServerUrls().redisUrl, role: 'client' });
afterAll(() => redis.disconnect());

describe('traffic stats in Redis', () => {
  it('sums what several recorders counted into one window per context and side', async () => {
    const prefix = `test:traffic:${randomUUID()}`;
    const now = Date.now();
    const a = new TrafficRecorder(redis, { prefix, now: () => now });
    const b = new TrafficRecorder(redis, { prefix, now: () => now - 10_000 });
    for (let i = 0; i < 98; i++) a.request('users', 'service', false, 3);
    a.request('users', 'service', true, 40);
    b.request('users', 'service', false, 900);
    for (let i = 0; i < 10; i++) b.request('users', 'monolith', false, 1);
    a.shadow('users', 'match');
    a.shadow('users', 'match');
    b.shadow('users', 'mismatch');
    a.request('products', 'monolith', true, 1);
    await Promise.all([a.close(), b.close()]);

    const w = await readTrafficWindow(redis, 'users', 60, { now, prefix });
    expect(w.service).toEqual({ requests: 100, errors: 1, errorRate: 0.01, p99Ms: 50 });
    expect(w.monolith).toEqual({ requests: 10, errors: 0, errorRate: 0, p99Ms: 1 });
    expect(w.shadow).toEqual({ match: 2, mismatch: 1, error: 0, samples: 3, consistency: 2 / 3 });
    expect((await readTrafficWindow(redis, 'products', 60, { now, prefix })).monolith.errors).toBe(1);
  });

  it('counts reads apart, so the two sides compare on the routes both serve', async () => {
    const prefix = `test:traffic:${randomUUID()}`;
    const now = Date.now();
    const r = new TrafficRecorder(redis, { prefix, now: () => now });
    for (let i = 0; i < 9; i++) r.request('users', 'monolith', false, 2, true);
    r.request('users', 'monolith', true, 700, false);
    r.request('users', 'service', true, 3, true);
    await r.close();
    const w = await readTrafficWindow(redis, 'users', 60, { now, prefix });
    expect(w.monolith).toEqual({ requests: 10, errors: 1, errorRate: 0.1, p99Ms: 1000 });
    expect(w.reads.monolith).toEqual({ requests: 9, errors: 0, errorRate: 0, p99Ms: 2 });
    expect(w.reads.service).toEqual({ requests: 1, errors: 1, errorRate: 1, p99Ms: 5 });
  });

  it('with sinceMs, leaves out the bucket a change fell in and every one before it', async () => {
    const prefix = `test:traffic:${randomUUID()}`;
    const now = Math.floor(Date.now() / 10_000) * 10_000 + 5_000;
    const before = new TrafficRecorder(redis, { prefix, now: () => now - 20_000 });
    const during = new TrafficRecorder(redis, { prefix, now: () => now - 10_000 });
    const after = new TrafficRecorder(redis, { prefix, now: () => now });
    before.request('users', 'service', true, 1, true);
    during.request('users', 'service', true, 1, true);
    after.request('users', 'service', false, 1, true);
    await Promise.all([before.close(), during.close(), after.close()]);
    const all = await readTrafficWindow(redis, 'users', 60, { now, prefix });
    expect(all.reads.service.requests).toBe(3);
    const since = await readTrafficWindow(redis, 'users', 60, { now, prefix, sinceMs: now - 12_000 });
    expect(since.reads.service).toEqual({ requests: 1, errors: 0, errorRate: 0, p99Ms: 1 });
  });

  it('leaves older buckets out of a short window', async () => {
    const prefix = `test:traffic:${randomUUID()}`;
    const now = Date.now();
    const old = new TrafficRecorder(redis, { prefix, now: () => now - 120_000 });
    old.request('users', 'service', true, 1);
    await old.close();
    const w = await readTrafficWindow(redis, 'users', 30, { now, prefix });
    expect(w.service.requests).toBe(0);
    expect(w.service.p99Ms).toBeNull();
    expect(w.shadow.consistency).toBeNull();
  });
});
