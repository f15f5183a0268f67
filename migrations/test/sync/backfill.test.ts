import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApplyWorker,
  applyRow,
  type BackfillProgress,
  backfillStatus,
  installCapture,
  listDeadLetters,
  OutboxRelay,
  openSyncDatabases,
  removeCapture,
  runBackfill,
  type SyncChannel,
  SyncConfigError,
} from '../../src/sync/index.ts';
import {
  channelOf,
  expectNoDrift,
  obliterateQueue,
  openSyncFixture,
  type SyncFixture,
  startWriter,
  usersMapping,
  waitFor,
  waitForQuiescence,
  writersDid,
} from './harness.ts';

const ROWS = 10_000;
const POISON_AT = 5_000;
const PREFIX = `sync-backfill-test-${process.pid}`;

let fx: SyncFixture;
let seededIds: number[] = [];
const channels: SyncChannel[] = [];

function backfillChannel(name: string, targetTable: string): SyncChannel {
  const channel = channelOf(fx, name, [usersMapping(targetTable)], PREFIX);
  channels.push(channel);
  return channel;
}

beforeAll(async () => {
  fx = await openSyncFixture({ redisDb: 12, targetTables: ['copy_a', 'copy_b', 'copy_c', 'copy_gap', 'copy_fail'] });
  // What the monolith holds before the migration starts (written before any capture).
  const rows: Array<{ id: number }> = await fx.sourceKnex
    .raw(
      `INSERT INTO users (email, full_name, password_hash, created_at, updated_at)
     SELECT 'seed-' || g || '@example.test', CASE WHEN g = ? THEN 'POISON seed' ELSE 'Seed ' || g END, 'x',
            clock_timestamp() - g * interval '1 minute', clock_timestamp() - g * interval '1 second'
       FROM generate_series(1, ?) AS g
     RETURNING id`,
      [POISON_AT, ROWS],
    )
    .then((r: { rows: Array<{ id: number }> }) => r.rows);
  seededIds = rows.map((r) => r.id);
});

afterAll(async () => {
  for (const channel of channels) await obliterateQueue(channel);
  await fx?.close();
});

describe('backfill', () => {
  it('refuses to start before capture is installed, since writes during the copy would be lost', async () => {
    await expect(runBackfill(backfillChannel('fill-nocapture', 'copy_a'))).rejects.toThrow(SyncConfigError);
  });

  it('copies every row in keyset batches, reporting progress with rows/s and ETA', async () => {
    const channel = backfillChannel('fill-a', 'copy_a');
    await installCapture(fx.sourceKnex, channel);
    const progress: BackfillProgress[] = [];
    const result = await runBackfill(channel, { batchSize: 1000, onProgress: (p) => progress.push(p) });

    expect(result.aborted).toBe(false);
    expect(result.tables).toEqual([
      expect.objectContaining({
        rows: ROWS,
        inserted: ROWS - 1,
        poison: 1,
        batches: 10,
        finished: true,
        resumedFrom: null,
      }),
    ]);
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => i * 1000));
    expect(progress.every((p) => p.total === ROWS && p.rowsPerSecond > 0)).toBe(true);
    expect(progress.at(-1)?.etaSeconds).toBe(0);
    expect(progress[0]?.etaSeconds).toBeGreaterThan(0);
    const rowsPerSecond = Math.round((ROWS * 1000) / result.ms);
    console.log(`[backfill] ${ROWS} rows in ${result.ms} ms: ${rowsPerSecond} rows/s (batches of 1000)`);

    expect(await listDeadLetters(channel)).toEqual([
      expect.objectContaining({
        key: String(seededIds[POISON_AT - 1]),
        outboxId: null,
        reason: expect.stringMatching(/POISON seed/),
      }),
    ]);
    const report = await expectNoDrift(channel);
    expect(report.tables[0]?.unmapped).toEqual([String(seededIds[POISON_AT - 1])]);
    expect(report.rowsCompared).toBe(ROWS - 1);
    await removeCapture(fx.sourceKnex, channel, { dropOutbox: true });
  });

  it('stopped after k batches, resumes after its checkpoint and copies only what is left', async () => {
    const channel = backfillChannel('fill-b', 'copy_b');
    await installCapture(fx.sourceKnex, channel);
    const stop = new AbortController();
    const first = await runBackfill(channel, {
      batchSize: 2000,
      // One batch at a time, so the stop lands exactly after the second one.
      concurrency: 1,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.batches === 2) stop.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.tables[0]).toMatchObject({ rows: 4000, batches: 2, finished: false });
    const [checkpoint] = await backfillStatus(channel);
    expect(checkpoint).toMatchObject({
      lastKey: String(seededIds[3999]),
      rowsDone: 4000,
      batchesDone: 2,
      finishedAt: null,
    });
    expect(await fx.targetKnex('copy_b').count('* as n')).toEqual([{ n: 4000 }]);

    const second = await runBackfill(channel, { batchSize: 2000 });
    expect(second.aborted).toBe(false);
    expect(second.tables[0]).toMatchObject({
      resumedFrom: String(seededIds[3999]),
      rows: 6000,
      inserted: 5999,
      batches: 3,
      totalRows: ROWS,
      finished: true,
    });
    const third = await runBackfill(channel, { batchSize: 2000 });
    expect(third.tables[0]).toMatchObject({ skipped: true, rows: 0, batches: 0 });
    await expectNoDrift(channel);
    await removeCapture(fx.sourceKnex, channel, { dropOutbox: true });
  });

  it('a batch that fails keeps the checkpoint before it, even when a later batch committed first', async () => {
    const channel = backfillChannel('fill-fail', 'copy_fail');
    await installCapture(fx.sourceKnex, channel);
    // The third batch (keys 4001-6000 by position) waits, then fails; the fourth commits meanwhile.
    const failing = seededIds[4500] as number;
    await fx.targetKnex.raw(`
      CREATE FUNCTION fail_one() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = ${failing} THEN PERFORM pg_sleep(1); RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER fail_one BEFORE INSERT ON copy_fail FOR EACH ROW EXECUTE FUNCTION fail_one();`);
    await expect(runBackfill(channel, { batchSize: 2000, concurrency: 2 })).rejects.toThrow(/disk on fire/);
    const inRange = (from: number, to: number) =>
      fx
        .targetKnex('copy_fail')
        .whereBetween('id', [seededIds[from] as number, seededIds[to] as number])
        .count<Array<{ n: number }>>('* as n')
        .then(([r]) => Number(r?.n));
    expect(await inRange(6000, 7999)).toBe(2000);
    expect(await inRange(4000, 5999)).toBe(0);
    const [checkpoint] = await backfillStatus(channel);
    expect(checkpoint).toMatchObject({ lastKey: String(seededIds[3999]), rowsDone: 4000, finishedAt: null });

    await fx.targetKnex.raw('DROP TRIGGER fail_one ON copy_fail; DROP FUNCTION fail_one()');
    const again = await runBackfill(channel, { batchSize: 2000, concurrency: 2 });
    expect(again.tables[0]).toMatchObject({
      resumedFrom: String(seededIds[3999]),
      rows: 6000,
      // The fourth batch's rows were there already; the poison row is in the dead letters.
      inserted: 6000 - 2000 - 1,
      totalRows: ROWS,
      finished: true,
    });
    await expectNoDrift(channel);
    await removeCapture(fx.sourceKnex, channel, { dropOutbox: true });
  });

  it('is safe while capture runs and writes flow: backfill next to a writer, relay and worker ends in zero drift', async () => {
    const channel = backfillChannel('fill-c', 'copy_c');
    await installCapture(fx.sourceKnex, channel);
    const errors: unknown[] = [];
    const worker = new ApplyWorker(channel, { concurrency: 4, onError: (e) => errors.push(e) });
    const relay = new OutboxRelay(channel, { pollIntervalMs: 100, onError: (e) => errors.push(e) });
    await worker.start();
    await relay.start();
    try {
      // Writes across the whole key range, including rows the backfill has not reached yet.
      const writers = [3, 4].map((seed) =>
        startWriter(fx.sourceKnex, { seed, prefix: `fill-w${seed}`, ids: seededIds }),
      );
      await sleep(200);
      const result = await runBackfill(channel, { batchSize: 500 });
      await writersDid(writers, 20, { rollbacks: false });
      const stats = await Promise.all(writers.map((w) => w.stop()));
      expect(result.tables[0]?.finished).toBe(true);
      expect(stats.every((s) => s.ops > 20)).toBe(true);
      await waitForQuiescence(channel);
    } finally {
      await relay.stop();
      await worker.close();
    }
    await expectNoDrift(channel);
    expect(errors).toEqual([]);
  });

  it('does not resurrect a row deleted, and its delete applied, while a batch that read it was writing', async () => {
    // The race Ghostferry and gh-ost describe, played in slow motion: the target
    // holds every INSERT statement for a moment, while the row is deleted at the
    // source and that delete is applied. The row locks make the applier wait.
    const channel = backfillChannel('fill-gap', 'copy_gap');
    await installCapture(fx.sourceKnex, channel);
    await fx.targetKnex.raw(`
      CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$;
      CREATE TRIGGER slow_insert BEFORE INSERT ON copy_gap FOR EACH STATEMENT EXECUTE FUNCTION slow_insert();`);
    const victim = String(seededIds[123]);
    const db = openSyncDatabases(channel);
    try {
      const backfill = runBackfill(channel, { batchSize: ROWS, db });
      await waitFor('the batch to be inserting', async () => {
        const { rows } = await fx.targetKnex.raw<{ rows: unknown[] }>(
          "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'insert into \"copy_gap\"%'",
        );
        return rows.length > 0;
      });
      await fx.sourceKnex('users').where({ id: victim }).delete();
      const applied = applyRow(db, channel, usersMapping('copy_gap'), victim);
      expect((await backfill).tables[0]?.finished).toBe(true);
      expect(await applied).toBe('deleted');
    } finally {
      await db.close();
    }
    expect(await fx.targetKnex('copy_gap').where({ id: victim }).first()).toBeUndefined();
    await expectNoDrift(channel);
    await removeCapture(fx.sourceKnex, channel, { dropOutbox: true });
  });
});
