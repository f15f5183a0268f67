import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lockFlags } from '@strangler/foundation/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFlagClient, type FlagClient, type FlagClientOptions, staticFlagSource } from '../src/client.ts';
import { flagName } from '../src/definitions.ts';
import { MONOLITH_ONLY, snapshotFromToggles } from '../src/snapshot.ts';
import { adminApi, deadUrl, startProxy, tempDir, testUnleash, waitFor } from './helpers.ts';

/**
 * Against the run's real Unleash. These tests own the `products` flags (the
 * CLI tests own `users` and the kill switch), so both files can run at once.
 */

const REFRESH_MS = 250;
const PRODUCT_READS = flagName('products', 'reads');
const PRODUCT_SHADOW = flagName('products', 'shadow');

describe('createFlagClient against a real Unleash', () => {
  const clients: FlagClient[] = [];
  let dir: Awaited<ReturnType<typeof tempDir>>;

  const client = (over: Partial<FlagClientOptions> = {}): FlagClient => {
    const { url, clientToken } = testUnleash();
    const created = createFlagClient({
      url,
      clientToken,
      appName: 'flags-test',
      refreshMs: REFRESH_MS,
      backupPath: join(dir.path, 'backup.json'),
      ...over,
    });
    clients.push(created);
    return created;
  };

  // Other test files change the same flags: run one at a time.
  let release: () => Promise<void>;
  beforeAll(async () => {
    release = await lockFlags();
    dir = await tempDir();
    const api = adminApi();
    await api.setRollout(PRODUCT_READS, 0);
    await api.disable(PRODUCT_READS);
    await api.setRollout(PRODUCT_SHADOW, 0);
    await api.disable(PRODUCT_SHADOW);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    const api = adminApi();
    await api.setRollout(PRODUCT_READS, 0);
    await api.disable(PRODUCT_READS);
    await api.setRollout(PRODUCT_SHADOW, 0);
    await api.disable(PRODUCT_SHADOW);
    await dir.remove();
    await release();
  });

  it('gets fresh flags, and a change made through the admin API within a couple of refresh intervals', async () => {
    const flags = client();
    expect(flags.state().kind).toBe('none');
    expect(await flags.whenFresh(10_000)).toBe(true);
    expect(flags.state().kind).toBe('fresh');
    expect(flags.snapshot().contexts.products.readPercent).toBe(0);
    const seen: number[] = [];
    flags.onChange((snapshot) => seen.push(snapshot.contexts.products.readPercent));

    const api = adminApi();
    await api.setRollout(PRODUCT_READS, 30);
    await api.enable(PRODUCT_READS);
    // Unleash publishes a change on its 1 s revision tick, then one poll brings it; waitFor's deadline bounds it.
    await waitFor('products.reads at 30 %', () => flags.snapshot().contexts.products.readPercent === 30);
    expect(seen.at(-1)).toBe(30);
  });

  it('writes the backup, and a client that cannot reach Unleash starts from it as bootstrap-only', async () => {
    const first = client();
    await waitFor('the backup to have products.reads', () => first.snapshot().contexts.products.readPercent === 30);
    await first.close();

    const offline = client({ url: await deadUrl() });
    expect(offline.snapshot().contexts.products.readPercent).toBe(30);
    const state = offline.state();
    expect(state).toMatchObject({ kind: 'bootstrap-only', source: 'backup' });
    expect(state.kind === 'bootstrap-only' && state.savedAt).toBeInstanceOf(Date);
    await waitFor('the connection error', () => offline.state().kind === 'bootstrap-only' && !!lastError(offline));
    expect(lastError(offline)).toMatch(/cannot fetch flags from Unleash at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('keeps serving the last flags and reports stale since T when Unleash goes away, then recovers', async () => {
    const proxy = await startProxy(testUnleash().url);
    try {
      const flags = client({ url: proxy.url, backupPath: join(dir.path, 'proxied.json') });
      expect(await flags.whenFresh(10_000)).toBe(true);
      const before = flags.snapshot();
      expect(before.contexts.products.readPercent).toBe(30);

      const wentAway = Date.now();
      await proxy.stop();
      await waitFor('stale', () => flags.state().kind === 'stale', 10_000);
      const state = flags.state();
      if (state.kind !== 'stale') throw new Error('unreachable');
      // Stale from when the last answer got too old, or the first failure if that came sooner.
      expect(state.since.getTime()).toBeGreaterThanOrEqual(state.updatedAt.getTime());
      expect(state.since.getTime()).toBeLessThanOrEqual(wentAway + 3 * REFRESH_MS + 50);
      expect(flags.snapshot()).toBe(before);

      // A change while the client cannot see it arrives once Unleash is back.
      await adminApi().setRollout(PRODUCT_READS, 35);
      await proxy.start();
      await waitFor(
        'fresh again with 35 %',
        () => {
          return flags.state().kind === 'fresh' && flags.snapshot().contexts.products.readPercent === 35;
        },
        15_000,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('serves MONOLITH_ONLY and reports none with neither Unleash nor a backup nor a bootstrap', async () => {
    const url = await deadUrl();
    const flags = client({ url, backupPath: join(dir.path, 'never-written.json') });
    expect(flags.snapshot()).toEqual(MONOLITH_ONLY);
    expect(flags.state()).toEqual({ kind: 'none', lastError: null });
    await waitFor('the connection error', () => !!lastError(flags));
    expect(flags.state().kind).toBe('none');
    expect(lastError(flags)).toContain(url);
    expect(await flags.whenFresh(50)).toBe(false);
  });

  it('serves the bootstrap flags when there is no backup file', async () => {
    const flags = client({
      url: await deadUrl(),
      backupPath: join(dir.path, 'no-backup.json'),
      bootstrap: [
        {
          name: PRODUCT_READS,
          enabled: true,
          strategies: [{ name: 'flexibleRollout', parameters: { rollout: '40' }, constraints: [] }],
        },
      ],
    });
    expect(flags.snapshot().contexts.products.readPercent).toBe(40);
    expect(flags.state()).toMatchObject({ kind: 'bootstrap-only', source: 'bootstrap', savedAt: null });
  });

  it('ignores a damaged backup file: monolith, not a crash', async () => {
    const path = join(dir.path, 'damaged.json');
    await writeFile(path, '{"features": [nope');
    const warnings: string[] = [];
    const flags = client({
      url: await deadUrl(),
      backupPath: path,
      logger: { info() {}, warn: (message) => warnings.push(message) },
    });
    expect(flags.snapshot()).toEqual(MONOLITH_ONLY);
    expect(flags.state().kind).toBe('none');
    expect(warnings[0]).toMatch(/ignoring the flag backup .*damaged\.json: not JSON/);
  });

  it('polls again after Unleash rejected the token, so fixing the token on the server is enough', async () => {
    const proxy = await startProxy(testUnleash().url);
    try {
      proxy.answerWith(401);
      const flags = client({ url: proxy.url, backupPath: join(dir.path, 'rejected.json'), authRetryMs: 300 });
      await waitFor('the token error', () => /UNLEASH_CLIENT_TOKEN/.test(lastError(flags) ?? ''));
      proxy.answerWith(null);
      expect(await flags.whenFresh(10_000)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('keeps the last flags when Unleash rejects the client token, and says which variable to fix', async () => {
    const flags = client({ clientToken: 'default:development.not-a-token', backupPath: join(dir.path, 'backup.json') });
    await waitFor('the token error', () => !!lastError(flags));
    expect(flags.state().kind).toBe('bootstrap-only');
    expect(lastError(flags)).toMatch(/rejected UNLEASH_CLIENT_TOKEN \(401\)/);
    expect(flags.snapshot().contexts.products.readPercent).toBeGreaterThan(0);
  });
});

describe('staticFlagSource', () => {
  it('serves what it is given and tells listeners about changes', async () => {
    const source = staticFlagSource();
    expect(source.snapshot()).toBe(MONOLITH_ONLY);
    expect(source.state().kind).toBe('fresh');
    const seen: boolean[] = [];
    const unsubscribe = source.onChange((s) => seen.push(s.killSwitch));
    source.set(
      snapshotFromToggles([{ name: 'strangler.killswitch', enabled: true, strategies: [{ name: 'default' }] }]),
    );
    unsubscribe();
    source.set(MONOLITH_ONLY);
    source.setState({ kind: 'none', lastError: null });
    expect(seen).toEqual([true]);
    expect(source.state().kind).toBe('none');
    await source.close();
  });
});

function lastError(client: FlagClient): string | null {
  const state = client.state();
  return state.kind === 'fresh' ? null : state.lastError;
}
