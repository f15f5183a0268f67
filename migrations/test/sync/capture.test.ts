import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRow } from '../../src/sync/apply.ts';
import { installCapture, isCaptureInstalled, OUTBOX_TABLE, removeCapture } from '../../src/sync/capture.ts';
import type { SyncChannel, SyncMapping } from '../../src/sync/channel.ts';
import { openSyncDatabases } from '../../src/sync/databases.ts';
import { runBackfill } from '../../src/sync/index.ts';
import { channelOf, insertUsers, openSyncFixture, type SyncFixture, usersMapping } from './harness.ts';

let fx: SyncFixture;
let forward: SyncChannel;

beforeAll(async () => {
  fx = await openSyncFixture({ redisDb: 11 });
  forward = channelOf(fx, 'capture-forward', [usersMapping()], 'sync-capture-test');
  await installCapture(fx.sourceKnex, forward);
});

afterAll(async () => {
  await fx?.close();
});

interface OutboxRow {
  id: number;
  channel: string;
  table_name: string;
  row_key: string;
  op: string;
}

async function outboxAfter(knex: SyncFixture['sourceKnex'], id: number): Promise<OutboxRow[]> {
  return knex(OUTBOX_TABLE).select('id', 'channel', 'table_name', 'row_key', 'op').where('id', '>', id).orderBy('id');
}

async function lastOutboxId(knex: SyncFixture['sourceKnex']): Promise<number> {
  const { rows } = await knex.raw<{ rows: Array<{ max: number | null }> }>(
    `SELECT max(id)::int AS max FROM ${OUTBOX_TABLE}`,
  );
  return rows[0]?.max ?? 0;
}

describe('capture', () => {
  it('writes one outbox row per inserted, updated and deleted row, in the writer’s transaction', async () => {
    const before = await lastOutboxId(fx.sourceKnex);
    const [a = 0, b = 0] = await insertUsers(fx.sourceKnex, 'cap', 2);
    await fx.sourceKnex('users').whereIn('id', [a, b]).update({ full_name: 'Both renamed' });
    await fx.sourceKnex('users').where({ id: a }).delete();
    expect((await outboxAfter(fx.sourceKnex, before)).map((r) => [r.op, Number(r.row_key)])).toEqual([
      ['I', a],
      ['I', b],
      ['U', a],
      ['U', b],
      ['D', a],
    ]);
    const rows = await outboxAfter(fx.sourceKnex, before);
    expect(new Set(rows.map((r) => `${r.channel}/${r.table_name}`))).toEqual(new Set(['capture-forward/users']));
  });

  it('records nothing for a transaction that rolls back', async () => {
    const before = await lastOutboxId(fx.sourceKnex);
    await fx.sourceKnex
      .transaction(async (trx) => {
        const [id] = await insertUsers(trx, 'rolled', 1);
        await trx('users').where({ id }).update({ full_name: 'never' });
        expect(await trx(OUTBOX_TABLE).where('id', '>', before).count('* as n')).toEqual([{ n: 2 }]);
        throw new Error('roll back');
      })
      .catch(() => {});
    expect(await outboxAfter(fx.sourceKnex, before)).toEqual([]);
  });

  it('records an update that changes the key as a delete of the old key and an update of the new one', async () => {
    const [id = 0] = await insertUsers(fx.sourceKnex, 'rekey', 1);
    const before = await lastOutboxId(fx.sourceKnex);
    await fx
      .sourceKnex('users')
      .where({ id })
      .update({ id: id + 100_000 });
    expect((await outboxAfter(fx.sourceKnex, before)).map((r) => [r.op, r.row_key])).toEqual([
      ['D', String(id)],
      ['U', String(id + 100_000)],
    ]);
  });

  it('installs and removes idempotently, and keeps the outbox unless asked to drop it', async () => {
    const other = channelOf(fx, 'capture-other', [usersMapping()], 'sync-capture-test');
    await installCapture(fx.sourceKnex, other);
    await installCapture(fx.sourceKnex, other);
    expect(await isCaptureInstalled(fx.sourceKnex, other)).toBe(true);
    const before = await lastOutboxId(fx.sourceKnex);
    await insertUsers(fx.sourceKnex, 'two-channels', 1);
    // Both channels capture the same write, once each.
    expect((await outboxAfter(fx.sourceKnex, before)).map((r) => r.channel).sort()).toEqual([
      'capture-forward',
      'capture-other',
    ]);

    await removeCapture(fx.sourceKnex, other);
    await removeCapture(fx.sourceKnex, other);
    expect(await isCaptureInstalled(fx.sourceKnex, other)).toBe(false);
    expect(await fx.sourceKnex(OUTBOX_TABLE).where({ channel: 'capture-other' }).count('* as n')).toEqual([{ n: 1 }]);
    const after = await lastOutboxId(fx.sourceKnex);
    await insertUsers(fx.sourceKnex, 'one-channel', 1);
    expect((await outboxAfter(fx.sourceKnex, after)).map((r) => r.channel)).toEqual(['capture-forward']);

    await removeCapture(fx.sourceKnex, other, { dropOutbox: true });
    expect(await fx.sourceKnex(OUTBOX_TABLE).where({ channel: 'capture-other' }).count('* as n')).toEqual([{ n: 0 }]);
    // Another channel still captures here, so the tables stay.
    expect(await fx.sourceKnex.schema.hasTable(OUTBOX_TABLE)).toBe(true);
  });

  it('does not capture the applier’s or the backfill’s writes, so a reverse channel never echoes them', async () => {
    const back: SyncMapping = {
      name: 'users-back',
      source: { table: 'copy_users', key: 'id' },
      target: { table: 'users', key: 'id' },
      toTarget: (r) => ({ id: r.id, email: r.email, full_name: r.name, updated_at: r.updated_at }),
    };
    const reverse: SyncChannel = {
      ...forward,
      name: 'capture-reverse',
      direction: 'reverse',
      sourceUrl: fx.target.url,
      targetUrl: fx.source.url,
      mappings: [back],
    };
    await installCapture(fx.targetKnex, reverse);
    const ids = await insertUsers(fx.sourceKnex, 'echo', 3);
    const db = openSyncDatabases(forward);
    try {
      for (const id of ids.slice(0, 2)) await applyRow(db, forward, usersMapping(), String(id));
      const backfill = await runBackfill(forward, { db, batchSize: 50 });
      expect(backfill.tables[0]?.inserted).toBeGreaterThan(0);
      await applyRow(db, forward, usersMapping(), String(ids[0]));
    } finally {
      await db.close();
    }
    expect(await fx.targetKnex('copy_users').whereIn('id', ids).count('* as n')).toEqual([{ n: 3 }]);
    expect(await fx.targetKnex(OUTBOX_TABLE).count('* as n')).toEqual([{ n: 0 }]);

    // The trigger is there and works for everyone else: a direct write to the target is captured.
    await fx.targetKnex('copy_users').where({ id: ids[0] }).update({ name: 'Written by the service' });
    expect(await fx.targetKnex(OUTBOX_TABLE).select('channel', 'row_key', 'op')).toEqual([
      { channel: 'capture-reverse', row_key: String(ids[0]), op: 'U' },
    ]);
  });

  // Regression: a reinstall (`advance` run again after a killed backfill) locked the outbox, then the source
  // table; a writer holds the source table, then its trigger needs the outbox: Postgres killed the writer
  // ("deadlock detected", a 500 to the monolith's client). The reinstall now locks the source tables first.
  it('reinstalls under a writer midway through its transaction without a deadlock', async () => {
    const [id = 0] = await insertUsers(fx.sourceKnex, 'reinstall', 1);
    const writer = await fx.sourceKnex.transaction();
    try {
      // The writer holds users (as an UPDATE does before its trigger fires), not yet the outbox.
      await writer('users').where({ id: -1 }).update({ full_name: 'nobody' });
      const reinstall = installCapture(fx.sourceKnex, forward).then(
        () => null,
        (err: Error) => err.message,
      );
      // Let the reinstall take what it can and block.
      await new Promise((r) => setTimeout(r, 300));
      // Now the writer's trigger needs the outbox.
      await writer('users').where({ id }).update({ full_name: 'Renamed during a reinstall' });
      await writer.commit();
      expect(await reinstall).toBeNull();
    } catch (err) {
      await writer.rollback().catch(() => {});
      throw err;
    }
    expect(await isCaptureInstalled(fx.sourceKnex, forward)).toBe(true);
  });
});
