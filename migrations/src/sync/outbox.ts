import type { Knex } from '@strangler/foundation';
import { DEAD_LETTERS_TABLE, OUTBOX_TABLE } from './capture.ts';
import type { SyncChannel } from './channel.ts';
import { type SyncDatabases, withSyncDatabases } from './databases.ts';

/**
 * The outbox's queries, in one place: the relay claims and marks, the applier
 * marks applied, status reads the lag. The outbox in the source database is the
 * source of truth; Redis only carries work and can be rebuilt from it.
 *
 * A row's life: created (by the trigger) → relayed_at (its job is in Redis) →
 * applied_at (the target has the row's state as of at least this change), or
 * parked in the dead-letter list with the reason.
 */

export type OutboxOp = 'I' | 'U' | 'D';

export interface OutboxEntry {
  id: number;
  table: string;
  key: string;
  op: OutboxOp;
}

interface OutboxDbRow {
  id: number;
  table_name: string;
  row_key: string;
  op: OutboxOp;
}

const toEntry = (r: OutboxDbRow): OutboxEntry => ({ id: r.id, table: r.table_name, key: r.row_key, op: r.op });

/**
 * Locks up to `limit` unrelayed rows in id order. SKIP LOCKED lets several
 * relays share the outbox: each takes rows the others are not holding.
 */
export async function claimUnrelayed(trx: Knex.Transaction, channel: string, limit: number): Promise<OutboxEntry[]> {
  const rows: OutboxDbRow[] = await trx(OUTBOX_TABLE)
    .select('id', 'table_name', 'row_key', 'op')
    .where({ channel })
    .whereNull('relayed_at')
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked();
  return rows.map(toEntry);
}

/** Whether the channel has unrelayed rows: one cheap look (the partial index), no transaction, no locks. */
export async function hasUnrelayed(knex: Knex, channel: string): Promise<boolean> {
  const row = await knex(OUTBOX_TABLE).select(knex.raw('1')).where({ channel }).whereNull('relayed_at').first();
  return row !== undefined;
}

export async function markRelayed(trx: Knex.Transaction, ids: readonly number[]): Promise<void> {
  await trx(OUTBOX_TABLE)
    .whereIn('id', ids)
    .update({ relayed_at: trx.raw('clock_timestamp()') });
}

export async function markApplied(source: Knex, outboxId: number): Promise<void> {
  await source(OUTBOX_TABLE)
    .where({ id: outboxId })
    .whereNull('applied_at')
    .update({ applied_at: source.raw('clock_timestamp()') });
}

/** `markApplied` for several rows in one statement (the apply worker's group commit). */
export async function markAppliedMany(source: Knex, outboxIds: readonly number[]): Promise<void> {
  if (outboxIds.length === 0) return;
  await source(OUTBOX_TABLE)
    .whereIn('id', outboxIds)
    .whereNull('applied_at')
    .update({ applied_at: source.raw('clock_timestamp()') });
}

/** Relayed but not applied, not dead-lettered, relayed before `olderThanMs` ago: candidates for re-relay. */
export async function relayedUnapplied(
  source: Knex,
  channel: string,
  olderThanMs: number,
  limit: number,
): Promise<OutboxEntry[]> {
  const rows: OutboxDbRow[] = await source(`${OUTBOX_TABLE} as o`)
    .select('o.id', 'o.table_name', 'o.row_key', 'o.op')
    .where('o.channel', channel)
    .whereNull('o.applied_at')
    .whereNotNull('o.relayed_at')
    .where('o.relayed_at', '<', source.raw("clock_timestamp() - ? * interval '1 millisecond'", [olderThanMs]))
    .whereNotExists((q) =>
      q
        .select(source.raw('1'))
        .from(`${DEAD_LETTERS_TABLE} as d`)
        .whereRaw('d.channel = o.channel AND d.outbox_id = o.id'),
    )
    .orderBy('o.id')
    .limit(limit);
  return rows.map(toEntry);
}

/** Hands rows back to the relay; it re-adds them under the same job ids. */
/** Marks rows as not relayed, unless applied meanwhile; returns the ids it changed. */
export async function unmarkRelayed(source: Knex, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows: Array<{ id: number }> = await source(OUTBOX_TABLE)
    .whereIn('id', ids)
    .whereNull('applied_at')
    .update({ relayed_at: null })
    .returning('id');
  return rows.map((r) => Number(r.id));
}

export interface CaptureLag {
  /** Age of the oldest change not yet applied, 0 when there is none. */
  oldestUnappliedSeconds: number;
  /** Changes not yet applied (dead letters excluded: they are listed on their own). */
  unappliedRows: number;
  /** Of those, the ones not yet handed to BullMQ. */
  unrelayedRows: number;
}

/** How far the target is behind the source, from the outbox alone. */
export async function captureLag(channel: SyncChannel, opts: { db?: SyncDatabases } = {}): Promise<CaptureLag> {
  return withSyncDatabases(channel, opts.db, async ({ source }) => {
    const { rows } = await source.raw<{
      rows: Array<{ unapplied: number; unrelayed: number; oldest: number | null }>;
    }>(
      `SELECT count(*)::int AS unapplied,
              (count(*) FILTER (WHERE relayed_at IS NULL))::int AS unrelayed,
              extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS oldest
         FROM ${OUTBOX_TABLE} o
        WHERE channel = ? AND applied_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM ${DEAD_LETTERS_TABLE} d WHERE d.channel = o.channel AND d.outbox_id = o.id)`,
      [channel.name],
    );
    const r = rows[0];
    return {
      oldestUnappliedSeconds: r?.oldest ?? 0,
      unappliedRows: r?.unapplied ?? 0,
      unrelayedRows: r?.unrelayed ?? 0,
    };
  });
}

/** Deletes applied rows older than `olderThanSeconds`; returns how many. The outbox otherwise only grows. */
export async function pruneOutbox(
  channel: SyncChannel,
  opts: { olderThanSeconds: number; db?: SyncDatabases },
): Promise<number> {
  return withSyncDatabases(channel, opts.db, async ({ source }) =>
    source(OUTBOX_TABLE)
      .where({ channel: channel.name })
      .whereNotNull('applied_at')
      .where('applied_at', '<', source.raw("clock_timestamp() - ? * interval '1 second'", [opts.olderThanSeconds]))
      .delete(),
  );
}
