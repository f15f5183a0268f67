import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis, type Redis } from '@strangler/foundation';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApplyJobData,
  ApplyWorker,
  captureLag,
  installCapture,
  jobIdOf,
  listDeadLetters,
  OUTBOX_TABLE,
  OutboxRelay,
  openSyncQueue,
  outboxInstanceOf,
  reconcile,
  removeCapture,
  retryDeadLetters,
  type SyncChannel,
} from '../../src/sync/index.ts';
import {
  channelOf,
  expectNoDrift,
  insertUsers,
  obliterateQueue,
  openSyncFixture,
  type SyncFixture,
  startWriter,
  usersMapping,
  waitFor,
  waitForQuiescence,
  writersDid,
} from './harness.ts';

// Redis logical db 13 is this file's alone: one test flushes it to play a Redis restart.
const REDIS_DB = 13;

let fx: SyncFixture;
let channel: SyncChannel;
let redis: Redis;
let queue: Queue<ApplyJobData>;
const errors: unknown[] = [];
const onError = (err: unknown) => errors.push(err);

beforeAll(async () => {
  fx = await openSyncFixture({ redisDb: REDIS_DB });
  channel = channelOf(fx, 'relay-forward', [usersMapping()], `sync-relay-test-${process.pid}`);
  await installCapture(fx.sourceKnex, channel);
  // The reverse channel's capture on the target: the applier's writes must never show up in it.
  await installCapture(fx.targetKnex, {
    ...channel,
    name: 'relay-reverse',
    direction: 'reverse',
    sourceUrl: fx.target.url,
    targetUrl: fx.source.url,
    mappings: [
      {
        name: 'back',
        source: { table: 'copy_users', key: 'id' },
        target: { table: 'users', key: 'id' },
        toTarget: (r) => r,
      },
    ],
  });
  redis = createRedis({ url: fx.redisUrl, role: 'client' });
  queue = openSyncQueue(channel, redis);
});

afterAll(async () => {
  if (channel) await obliterateQueue(channel);
  await queue?.close();
  redis?.disconnect();
  await fx?.close();
});

async function lastOutboxId(): Promise<number> {
  const { rows } = await fx.sourceKnex.raw<{ rows: Array<{ max: number | null }> }>(
    `SELECT max(id)::int AS max FROM ${OUTBOX_TABLE}`,
  );
  return rows[0]?.max ?? 0;
}

async function outboxIdsAfter(id: number): Promise<number[]> {
  const rows: Array<{ id: number }> = await fx.sourceKnex(OUTBOX_TABLE).select('id').where('id', '>', id).orderBy('id');
  return rows.map((r) => r.id);
}

/** Starts a worker and a relay, runs `fn`, and always closes both. */
async function withEngine(
  opts: { concurrency?: number; relay?: ConstructorParameters<typeof OutboxRelay>[1] },
  fn: (engine: { worker: ApplyWorker; relay: OutboxRelay }) => Promise<void>,
): Promise<void> {
  const worker = new ApplyWorker(channel, { concurrency: opts.concurrency ?? 4, onError });
  const relay = new OutboxRelay(channel, { pollIntervalMs: 200, onError, ...opts.relay });
  try {
    await worker.start();
    await relay.start();
    await fn({ worker, relay });
  } finally {
    await relay.stop();
    await worker.close();
  }
}

describe('relay and apply', () => {
  it('under concurrent writes ends with target = mapped source, one job per outbox row, and no lag', async () => {
    errors.length = 0;
    const seedIds = await insertUsers(fx.sourceKnex, 'base', 200);
    const before = await lastOutboxId();
    await withEngine({ relay: { batchSize: 200 } }, async ({ worker, relay }) => {
      const writers = [1, 2].map((seed) => startWriter(fx.sourceKnex, { seed, prefix: `w${seed}`, ids: seedIds }));
      await writersDid(writers, 50);
      const stats = await Promise.all(writers.map((w) => w.stop()));
      expect(stats.every((s) => s.ops > 50 && s.rolledBack > 0)).toBe(true);
      await waitForQuiescence(channel);

      // Counted after the 200 seed rows: those were captured before `before` and relayed too.
      const outboxIds = [...(await outboxIdsAfter(0))];
      const jobs = await queue.getJobs(['completed'], 0, -1);
      const instance = await outboxInstanceOf(fx.sourceKnex);
      expect(jobs.map((j) => j.id).sort()).toEqual(outboxIds.map((id) => jobIdOf(channel, instance, id)).sort());
      expect(worker.stats.applied).toBe(outboxIds.length);
      expect(relay.stats.relayed).toBe(outboxIds.length);
      expect((await outboxIdsAfter(before)).length).toBeGreaterThan(100);
    });
    await expectNoDrift(channel);
    expect(await captureLag(channel)).toEqual({ oldestUnappliedSeconds: 0, unappliedRows: 0, unrelayedRows: 0 });
    expect(await fx.targetKnex(OUTBOX_TABLE).count('* as n')).toEqual([{ n: 0 }]);
    expect(errors).toEqual([]);
  });

  it('is woken by NOTIFY without polling, and listens again after its connection is killed', async () => {
    errors.length = 0;
    // Polling once a minute: anything relayed sooner was woken by the trigger's NOTIFY.
    await withEngine({ relay: { pollIntervalMs: 60_000 } }, async ({ relay }) => {
      await sleep(100);
      await insertUsers(fx.sourceKnex, 'notify', 1);
      await waitFor('the change relayed', async () => relay.stats.relayed === 1, 3_000);

      const { rows } = await fx.sourceKnex.raw<{ rows: Array<{ killed: boolean }> }>(
        // This database only: another test file (or run) may have a relay of the same channel name.
        'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()',
        [`strangler-relay-listen-${channel.name}`],
      );
      expect(rows).toEqual([{ killed: true }]);
      await insertUsers(fx.sourceKnex, 'notify-again', 1);
      await waitFor('the change relayed after the reconnect', async () => relay.stats.relayed === 2, 5_000);
      await waitForQuiescence(channel);
    });
    expect(errors.length).toBeGreaterThan(0); // the killed connection was reported, not thrown
    errors.length = 0;
  });

  it('treats duplicated and reordered delivery (an old insert after a delete) as harmless', async () => {
    const worker = new ApplyWorker(channel, { concurrency: 1, onError });
    await worker.start();
    try {
      const before = await lastOutboxId();
      const [gone = 0, kept = 0] = await insertUsers(fx.sourceKnex, 'dup', 2);
      await fx.sourceKnex('users').where({ id: gone }).update({ full_name: 'Gone v2' });
      await fx.sourceKnex('users').where({ id: gone }).delete();
      await fx.sourceKnex('users').where({ id: kept }).update({ full_name: 'Kept v2' });
      const rows: Array<{ id: number; table_name: string; row_key: string; op: 'I' | 'U' | 'D' }> = await fx
        .sourceKnex(OUTBOX_TABLE)
        .where('id', '>', before)
        .orderBy('id');
      expect(rows.map((r) => r.op)).toEqual(['I', 'I', 'U', 'D', 'U']);

      // Newest first, then everything again oldest first: the delete runs before the insert and the update.
      const deliveries = [...[...rows].reverse(), ...rows];
      await queue.addBulk(
        deliveries.map((r, i) => ({
          name: r.table_name,
          data: { table: r.table_name, key: r.row_key, op: r.op, outboxId: r.id },
          // Distinct ids: BullMQ must run every copy for this test to mean anything.
          opts: { jobId: `${jobIdOf(channel, 'replay', r.id)}-${i}` },
        })),
      );
      await waitFor('every delivery applied', async () => worker.stats.applied === deliveries.length);
      expect(await fx.targetKnex('copy_users').where({ id: gone }).first()).toBeUndefined();
      expect(await fx.targetKnex('copy_users').where({ id: kept }).first()).toMatchObject({ name: 'Kept v2' });
      // Played as if the relay had relayed them, so the next tests' relays leave them alone.
      await fx.sourceKnex(OUTBOX_TABLE).where('id', '>', before).update({ relayed_at: fx.sourceKnex.fn.now() });
    } finally {
      await worker.close();
    }
    await expectNoDrift(channel);
  });

  it('restarts after a relay died between adding jobs and marking rows, without applying anything twice', async () => {
    const worker = new ApplyWorker(channel, { concurrency: 4, onError });
    await worker.start();
    try {
      const before = await lastOutboxId();
      const ids = await insertUsers(fx.sourceKnex, 'crash', 40);
      await fx.sourceKnex('users').whereIn('id', ids.slice(0, 10)).update({ full_name: 'Crash renamed' });
      const changes = (await outboxIdsAfter(before)).length;
      expect(changes).toBe(50);

      const dying = new OutboxRelay(channel, {
        onError,
        onBatchAdded: () => {
          throw new Error('relay killed after addBulk');
        },
      });
      await expect(dying.relayOnce()).rejects.toThrow('relay killed after addBulk');
      await dying.stop();
      // Its jobs reached Redis and are applied; its rows were never marked relayed.
      await waitFor('the orphaned jobs applied', async () => worker.stats.applied === changes);
      expect(
        await fx.sourceKnex(OUTBOX_TABLE).where('id', '>', before).whereNull('relayed_at').count('* as n'),
      ).toEqual([{ n: changes }]);

      const relay = new OutboxRelay(channel, { onError, pollIntervalMs: 100 });
      await relay.start();
      try {
        await waitFor('every row marked relayed', async () => {
          const [row] = await fx
            .sourceKnex(OUTBOX_TABLE)
            .where('id', '>', before)
            .whereNull('relayed_at')
            .count('* as n');
          return Number(row?.n) === 0;
        });
        expect(relay.stats.relayed).toBe(changes);
      } finally {
        await relay.stop();
      }
      // Same job ids: BullMQ kept the completed jobs and dropped the re-adds.
      await sleep(200);
      expect(worker.stats.applied).toBe(changes);
    } finally {
      await worker.close();
    }
    await expectNoDrift(channel);
  });

  it('loses nothing when Redis is flushed while changes flow: requeueUnapplied re-relays from the outbox', async () => {
    errors.length = 0;
    const ids = await insertUsers(fx.sourceKnex, 'flush', 50);
    const relay = new OutboxRelay(channel, { onError, pollIntervalMs: 100, sweepIntervalMs: 0 });
    await relay.start();
    let worker = new ApplyWorker(channel, { concurrency: 4, onError });
    await worker.start();
    try {
      const writer = startWriter(fx.sourceKnex, { seed: 7, prefix: 'flush-w', ids });
      await sleep(300);
      // Workers down, jobs piling up in Redis... and Redis loses them.
      await worker.close();
      await sleep(300);
      await waitFor('a backlog in Redis', async () => (await queue.getWaitingCount()) > 0);
      await redis.flushdb();
      await sleep(300);
      worker = new ApplyWorker(channel, { concurrency: 4, onError });
      await worker.start();
      await sleep(300);
      await writer.stop();

      await waitFor('everything relayed', async () => (await captureLag(channel)).unrelayedRows === 0);
      await waitFor(
        'the surviving jobs applied',
        async () => (await queue.getWaitingCount()) === 0 && (await queue.getActiveCount()) === 0,
      );
      const stranded = await captureLag(channel);
      expect(stranded.unappliedRows).toBeGreaterThan(0);

      expect(await relay.requeueUnapplied({ olderThanMs: 0 })).toBe(stranded.unappliedRows);
      await waitForQuiescence(channel);
    } finally {
      await relay.stop();
      await worker.close();
    }
    await expectNoDrift(channel);
  });

  it('sends a poison row to the dead-letter list with its reason, while other rows keep flowing', async () => {
    await withEngine({}, async () => {
      const [good1 = 0] = await insertUsers(fx.sourceKnex, 'fine', 3);
      const [poisoned = 0] = (await fx
        .sourceKnex('users')
        .insert({ email: 'poison@example.test', full_name: 'POISON pill', password_hash: 'x' })
        .returning('id')
        .then((rows: Array<{ id: number }>) => rows.map((r) => r.id))) as number[];
      const [good2 = 0] = await insertUsers(fx.sourceKnex, 'fine-after', 3);
      await waitForQuiescence(channel);

      const letters = await listDeadLetters(channel);
      expect(letters).toEqual([
        expect.objectContaining({
          table: 'users',
          key: String(poisoned),
          attempts: 1,
          reason: expect.stringMatching(/poison name "POISON pill"/),
        }),
      ]);
      expect(letters[0]?.outboxId).toBeGreaterThan(0);
      expect(await fx.targetKnex('copy_users').whereIn('id', [good1, good2]).count('* as n')).toEqual([{ n: 2 }]);
      expect(await fx.targetKnex('copy_users').where({ id: poisoned }).first()).toBeUndefined();
      const report = await reconcile(channel);
      expect(report.tables[0]?.unmapped).toEqual([String(poisoned)]);
      expect(report.drift).toBe(0);

      // Fixed at the source: the next change flows, and retrying the letter clears the list.
      await fx.sourceKnex('users').where({ id: poisoned }).update({ full_name: 'Cured' });
      await waitForQuiescence(channel);
      expect(await fx.targetKnex('copy_users').where({ id: poisoned }).first()).toMatchObject({ name: 'Cured' });
      expect(await retryDeadLetters(channel)).toBe(1);
      await waitForQuiescence(channel);
      expect(await listDeadLetters(channel)).toEqual([]);
    });
    await expectNoDrift(channel);
  });

  it('retries a row the target keeps rejecting with backoff, then dead-letters it with the database’s reason', async () => {
    await fx.targetKnex.raw("ALTER TABLE copy_users ADD CONSTRAINT not_rejected CHECK (name <> 'Rejected')");
    try {
      await withEngine({ relay: { jobOptions: { attempts: 3, backoffMs: 20 } } }, async ({ worker }) => {
        const [id = 0] = await fx
          .sourceKnex('users')
          .insert({ email: 'rejected@example.test', full_name: 'Rejected', password_hash: 'x' })
          .returning('id')
          .then((rows: Array<{ id: number }>) => rows.map((r) => r.id));
        await waitFor('the dead letter', async () => (await listDeadLetters(channel)).length === 1);
        expect(await listDeadLetters(channel)).toEqual([
          expect.objectContaining({ key: String(id), attempts: 3, reason: expect.stringMatching(/not_rejected/) }),
        ]);
        expect(worker.stats).toMatchObject({ retried: 2, deadLettered: 1 });
        expect(await captureLag(channel)).toMatchObject({ unappliedRows: 0 });
      });
    } finally {
      await fx.targetKnex.raw('ALTER TABLE copy_users DROP CONSTRAINT not_rejected');
    }
    await withEngine({}, async () => {
      expect(await retryDeadLetters(channel)).toBe(1);
      await waitForQuiescence(channel);
    });
    await expectNoDrift(channel);
  });

  it('applies the changes of a recreated outbox, whose ids start at 1 again while the old jobs are kept', async () => {
    // BullMQ keeps completed jobs to deduplicate their ids; the ones of the outbox so far are there.
    const kept = (await queue.getJobs(['completed'], 0, -1)).map((j) => Number(j.data.outboxId));
    expect(kept.length).toBeGreaterThan(0);
    const before = await outboxInstanceOf(fx.sourceKnex);
    await removeCapture(fx.sourceKnex, channel, { dropOutbox: true });
    await installCapture(fx.sourceKnex, channel);
    expect(await outboxInstanceOf(fx.sourceKnex)).not.toBe(before);
    // The new outbox's ids run over ids whose jobs BullMQ still keeps (a new table starts at 1;
    // the earliest kept ids here are past 1, as a Redis flush in an earlier test dropped the first ones).
    const first = Math.min(...kept);
    await fx.sourceKnex.raw(`ALTER SEQUENCE ${OUTBOX_TABLE}_id_seq RESTART WITH ${first}`);
    const [id] = await insertUsers(fx.sourceKnex, 'after-recreate', 3);
    expect(await lastOutboxId()).toBe(first + 2);
    expect(kept).toContain(first + 2);
    await withEngine({}, async () => {
      // Well under the relay's requeue sweep (30 s), which would otherwise find the rows in the end.
      await waitForQuiescence(channel, 5_000);
    });
    expect(await fx.targetKnex('copy_users').where({ id }).first()).toBeDefined();
    await expectNoDrift(channel);
  });
});
