import { setTimeout as sleep } from 'node:timers/promises';
import { createKnex, createRedis, type Knex } from '@strangler/foundation';
import { cloneDatabase, freshDatabase, type TestDatabase, testServerUrls } from '@strangler/foundation/testing';
import { Queue } from 'bullmq';
import { expect } from 'vitest';
import {
  captureLag,
  queueNameOf,
  queuePrefixOf,
  type ReconcileReport,
  reconcile,
  type SyncChannel,
  type SyncMapping,
} from '../../src/sync/index.ts';

/**
 * What the sync tests share: a monolith source database (cloned from the
 * migrated template), an empty target database with a simple copy of `users`,
 * a mapping between them that does not depend on the users service, and a
 * writer that keeps changing users while the engine runs.
 */

export const COPY_USERS_DDL = (table: string) =>
  `CREATE TABLE ${table} (id integer PRIMARY KEY, email text NOT NULL, name text NOT NULL, updated_at timestamptz NOT NULL)`;

/** monolith `users` → `copy_users`; a `full_name` starting with POISON makes the mapping throw. */
export function usersMapping(targetTable = 'copy_users'): SyncMapping {
  return {
    name: 'users',
    source: { table: 'users', key: 'id' },
    target: { table: targetTable, key: 'id' },
    toTarget: (row) => {
      if (typeof row.full_name === 'string' && row.full_name.startsWith('POISON')) {
        throw new Error(`poison name "${row.full_name}"`);
      }
      return { id: row.id, email: row.email, name: row.full_name, updated_at: row.updated_at };
    },
  };
}

export interface SyncFixture {
  source: TestDatabase;
  target: TestDatabase;
  sourceKnex: Knex;
  targetKnex: Knex;
  redisUrl: string;
  close(): Promise<void>;
}

/** Source: a fresh monolith database. Target: an empty database (named so the suite's stale sweep drops leftovers). */
export async function openSyncFixture(opts: { redisDb: number; targetTables?: string[] }): Promise<SyncFixture> {
  const { databaseUrl, redisUrl } = testServerUrls();
  const source = await freshDatabase('monolith');
  const target = await cloneDatabase(databaseUrl, 'template0');
  const sourceKnex = createKnex({ url: source.url, pool: { max: 6 } });
  const targetKnex = createKnex({ url: target.url, pool: { max: 4 } });
  for (const table of opts.targetTables ?? ['copy_users']) await targetKnex.raw(COPY_USERS_DDL(table));
  const url = new URL(redisUrl);
  url.pathname = `/${opts.redisDb}`;
  return {
    source,
    target,
    sourceKnex,
    targetKnex,
    redisUrl: url.toString(),
    close: async () => {
      await Promise.all([sourceKnex.destroy(), targetKnex.destroy()]);
      await Promise.all([source.drop(), target.drop()]);
    },
  };
}

export function channelOf(
  fx: SyncFixture,
  name: string,
  mappings: readonly SyncMapping[],
  queuePrefix: string,
): SyncChannel {
  return {
    name,
    direction: 'forward',
    sourceUrl: fx.source.url,
    targetUrl: fx.target.url,
    redisUrl: fx.redisUrl,
    mappings,
    queuePrefix,
  };
}

/** Removes every key of the channel's queue. */
export async function obliterateQueue(channel: SyncChannel): Promise<void> {
  const redis = createRedis({ url: channel.redisUrl, role: 'client' });
  const queue = new Queue(queueNameOf(channel), { connection: redis, prefix: queuePrefixOf(channel) });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Every captured change applied (dead letters aside). */
export async function waitForQuiescence(channel: SyncChannel, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `${channel.name} to apply its outbox`,
    async () => (await captureLag(channel)).unappliedRows === 0,
    timeoutMs,
  );
}

/** Reconciles and fails with the drifting keys when there are any. */
export async function expectNoDrift(channel: SyncChannel): Promise<ReconcileReport> {
  const report = await reconcile(channel, { rangeSize: 500 });
  const summary = report.tables.map((t) => ({
    table: t.table,
    missing: t.missing,
    extra: t.extra,
    different: t.different,
  }));
  expect(report.drift, JSON.stringify(summary)).toBe(0);
  return report;
}

/** mulberry32: a small seeded PRNG, so a writer's mix of operations is the same every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function insertUsers(knex: Knex | Knex.Transaction, prefix: string, n: number): Promise<number[]> {
  if (n === 0) return [];
  const rows: Array<{ id: number }> = await knex('users')
    .insert(
      Array.from({ length: n }, (_, i) => ({
        email: `${prefix}-${i}-${Math.random().toString(36).slice(2, 8)}@example.test`,
        full_name: `User ${prefix} ${i}`,
        password_hash: 'x',
      })),
    )
    .returning('id');
  return rows.map((r) => r.id);
}

export interface WriterStats {
  ops: number;
  rolledBack: number;
}

export interface Writer {
  /** What it has done so far. */
  current(): WriterStats;
  stop(): Promise<WriterStats>;
}

/** Waits until every writer has done at least `ops` changes and one rollback (bounded), instead of a fixed sleep that is too short on a loaded machine. */
export async function writersDid(
  writers: readonly Writer[],
  ops: number,
  { rollbacks = true, timeoutMs = 30_000 }: { rollbacks?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const done = (s: WriterStats) => s.ops > ops && (!rollbacks || s.rolledBack > 0);
  while (!writers.every((w) => done(w.current()))) {
    if (Date.now() > deadline) throw new Error(`writers did not reach ${ops} changes within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Changes users until stopped: inserts, updates (name, email, timestamps),
 * deletes, multi-row transactions and rolled-back transactions, in a seeded mix.
 */
export function startWriter(knex: Knex, opts: { seed: number; prefix: string; ids?: number[] }): Writer {
  const random = prng(opts.seed);
  const ids = [...(opts.ids ?? [])];
  const stats: WriterStats = { ops: 0, rolledBack: 0 };
  let stopping = false;
  let n = 0;
  const pick = () => ids[Math.floor(random() * ids.length)] ?? 0;
  const one = async (q: Knex | Knex.Transaction) => {
    const r = random();
    if (r < 0.35 || ids.length < 5) {
      ids.push(...(await insertUsers(q, `${opts.prefix}-${n++}`, 1)));
    } else if (r < 0.6) {
      await q('users')
        .where({ id: pick() })
        .update({ full_name: `Renamed ${n++}`, updated_at: q.raw('clock_timestamp()') });
    } else if (r < 0.75) {
      await q('users')
        .where({ id: pick() })
        .update({ email: `${opts.prefix}-moved-${n++}@example.test` });
    } else {
      const id = pick();
      await q('users').where({ id }).delete();
    }
  };
  const loop = (async () => {
    while (!stopping) {
      const r = random();
      if (r < 0.1) {
        await knex.transaction(async (trx) => {
          for (let i = 0; i < 3; i++) await one(trx);
        });
      } else if (r < 0.15) {
        await knex
          .transaction(async (trx) => {
            await one(trx);
            throw new Error('rollback');
          })
          .catch(() => {
            stats.rolledBack++;
          });
      } else {
        await one(knex);
      }
      stats.ops++;
      // Leave the two cores some room for the relay, the workers and Postgres.
      if (stats.ops % 5 === 0) await sleep(1);
    }
  })();
  return {
    current: () => ({ ...stats }),
    stop: async () => {
      stopping = true;
      await loop;
      return stats;
    },
  };
}
