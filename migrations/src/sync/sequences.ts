import type { Knex } from '@strangler/foundation';
import type { SyncChannel } from './channel.ts';
import { type SyncDatabases, withSyncDatabases } from './databases.ts';

/**
 * The id sequence handover of the write cutover: before a side starts
 * inserting rows it only received until now, its sequence is moved past
 * every id the other side ever issued (the highest key there, and the other
 * side's own sequence, which may be ahead of its rows after a rollback), so
 * neither side ever issues an id the other already used. A sequence only
 * ever moves forward.
 */

export interface SequenceHandover {
  table: string;
  sequence: string;
  /** The highest id used on each side before the handover. */
  sourceHighest: number;
  targetHighest: number;
  /** The sequence's last value after it; the next id the target issues is `after + 1`. */
  after: number;
}

async function sequenceOf(knex: Knex, table: string, key: string): Promise<string | null> {
  const { rows } = await knex.raw<{ rows: Array<{ seq: string | null }> }>(
    'SELECT pg_get_serial_sequence(?, ?) AS seq',
    [table, key],
  );
  return rows[0]?.seq ?? null;
}

async function highest(knex: Knex, table: string, key: string): Promise<number> {
  const seq = await sequenceOf(knex, table, key);
  const { rows } = await knex.raw<{ rows: Array<{ max: number | null }> }>(`SELECT max(??)::int8 AS max FROM ??`, [
    key,
    table,
  ]);
  const maxKey = rows[0]?.max ?? 0;
  if (!seq) return maxKey;
  const { rows: s } = await knex.raw<{ rows: Array<{ last_value: number; is_called: boolean }> }>(
    `SELECT last_value, is_called FROM ${seq}`,
  );
  const last = s[0]?.is_called ? Number(s[0].last_value) : Number(s[0]?.last_value ?? 1) - 1;
  return Math.max(maxKey, last);
}

/** Moves each target table's sequence past every id used on the source side. Idempotent. */
export async function handOverSequences(
  channel: SyncChannel,
  opts: { db?: SyncDatabases } = {},
): Promise<SequenceHandover[]> {
  return withSyncDatabases(channel, opts.db, async ({ source, target }) => {
    const out: SequenceHandover[] = [];
    for (const mapping of channel.mappings) {
      const sequence = await sequenceOf(target, mapping.target.table, mapping.target.key);
      if (!sequence) continue; // keys the application chooses itself need no handover
      const sourceHighest = await highest(source, mapping.source.table, mapping.source.key);
      const targetHighest = await highest(target, mapping.target.table, mapping.target.key);
      const used = Math.max(sourceHighest, targetHighest);
      const { rows } = await target.raw<{ rows: Array<{ after: string }> }>(
        // GREATEST against the live value: an insert racing this call can only move it further.
        `SELECT setval(?::regclass, GREATEST(?::int8, (SELECT last_value FROM ${sequence}))) AS after`,
        [sequence, Math.max(used, 1)],
      );
      out.push({ table: mapping.target.table, sequence, sourceHighest, targetHighest, after: Number(rows[0]?.after) });
    }
    return out;
  });
}
