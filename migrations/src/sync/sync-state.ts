import type { Knex } from '@strangler/foundation';
import type { SyncChannel } from './channel.ts';
import { type SyncDatabases, withSyncDatabases } from './databases.ts';

/**
 * The backfill's checkpoint, kept in the TARGET database (the one it writes)
 * and written in the same transaction as each batch: after a crash the
 * checkpoint and the copied rows agree, so a rerun resumes after the last
 * committed batch.
 *
 * Table created in the target database: `strangler_sync_state`, one row per
 * channel and source table.
 */

export const SYNC_STATE_TABLE = 'strangler_sync_state';

export interface BackfillCheckpoint {
  channel: string;
  table: string;
  /** The last source key copied, as text; null before the first batch. */
  lastKey: string | null;
  rowsDone: number;
  batchesDone: number;
  totalEstimate: number | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

interface SyncStateDbRow {
  channel: string;
  table_name: string;
  last_key: string | null;
  rows_done: number;
  batches_done: number;
  total_estimate: number | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const toCheckpoint = (r: SyncStateDbRow): BackfillCheckpoint => ({
  channel: r.channel,
  table: r.table_name,
  lastKey: r.last_key,
  rowsDone: r.rows_done,
  batchesDone: r.batches_done,
  totalEstimate: r.total_estimate,
  startedAt: r.started_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at,
});

export async function ensureSyncStateTable(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    // Two backfills starting at once would race on CREATE TABLE IF NOT EXISTS.
    await trx.raw("SELECT pg_advisory_xact_lock(hashtext('strangler:sync-state-ddl'))");
    await trx.raw(`
      CREATE TABLE IF NOT EXISTS ${SYNC_STATE_TABLE} (
        channel text NOT NULL,
        table_name text NOT NULL,
        last_key text,
        rows_done bigint NOT NULL DEFAULT 0,
        batches_done integer NOT NULL DEFAULT 0,
        total_estimate bigint,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at timestamptz,
        PRIMARY KEY (channel, table_name)
      )`);
  });
}

export async function readCheckpoint(
  knex: Knex | Knex.Transaction,
  channel: string,
  table: string,
): Promise<BackfillCheckpoint | null> {
  const row: SyncStateDbRow | undefined = await knex(SYNC_STATE_TABLE).where({ channel, table_name: table }).first();
  return row ? toCheckpoint(row) : null;
}

export async function startCheckpoint(knex: Knex, channel: string, table: string, total: number): Promise<void> {
  await knex(SYNC_STATE_TABLE)
    .insert({ channel, table_name: table, total_estimate: total })
    .onConflict(['channel', 'table_name'])
    .merge({ total_estimate: total, updated_at: knex.raw('clock_timestamp()') });
}

/** Records one committed batch; call inside the batch's transaction. */
export async function advanceCheckpoint(
  trx: Knex.Transaction,
  channel: string,
  table: string,
  batch: { lastKey: string; rows: number; finished: boolean; batches?: number },
): Promise<void> {
  await trx(SYNC_STATE_TABLE)
    .where({ channel, table_name: table })
    .update({
      last_key: batch.lastKey,
      rows_done: trx.raw('rows_done + ?', [batch.rows]),
      batches_done: trx.raw('batches_done + ?', [batch.batches ?? 1]),
      updated_at: trx.raw('clock_timestamp()'),
      finished_at: batch.finished ? trx.raw('clock_timestamp()') : null,
    });
}

export async function finishCheckpoint(knex: Knex, channel: string, table: string): Promise<void> {
  await knex(SYNC_STATE_TABLE)
    .where({ channel, table_name: table })
    .update({ finished_at: knex.raw('clock_timestamp()'), updated_at: knex.raw('clock_timestamp()') });
}

export async function resetCheckpoint(knex: Knex, channel: string, table: string): Promise<void> {
  await knex(SYNC_STATE_TABLE).where({ channel, table_name: table }).delete();
}

/** Every checkpoint of the channel, for status: where each table's backfill stands. */
export async function backfillStatus(
  channel: SyncChannel,
  opts: { db?: SyncDatabases } = {},
): Promise<BackfillCheckpoint[]> {
  return withSyncDatabases(channel, opts.db, async ({ target }) => {
    const exists = await target.schema.hasTable(SYNC_STATE_TABLE);
    if (!exists) return [];
    const rows: SyncStateDbRow[] = await target(SYNC_STATE_TABLE)
      .where({ channel: channel.name })
      .orderBy('table_name');
    return rows.map(toCheckpoint);
  });
}
