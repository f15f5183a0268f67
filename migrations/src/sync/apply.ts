import type { Knex } from '@strangler/foundation';
import { keyOf, mapRow, type Row, type SyncChannel, type SyncMapping } from './channel.ts';
import { markApplying, type SyncDatabases } from './databases.ts';
import { PoisonRowError } from './errors.ts';
import { lockRowKeys } from './row-locks.ts';

/**
 * Read-through apply of one row: the one code path by which the live sync,
 * retries and reconcile's repair write a row to the target.
 *
 * Contract
 * - Reads the CURRENT source row by key, so the result does not depend on which
 *   change triggered it: applying twice, late or out of order writes the same
 *   row. A row that is gone from the source is deleted from the target.
 * - Takes the key's row lock in the target (row-locks.ts) before it reads the
 *   source, and holds it until the write commits, so two workers on the same
 *   key cannot interleave "read old, read new, write new, write old", and the
 *   backfill cannot slip an older copy in between: whoever takes the lock last
 *   read the latest state.
 * - Writes in one target transaction with `strangler.applying = 'on'`, so a
 *   capture on the target (the reverse channel) does not echo it back.
 * - Throws PoisonRowError when the mapping rejects the row; anything else
 *   (connection, constraint) is transient as far as it knows, and may be retried.
 */

export type ApplyOutcome = 'upserted' | 'deleted';

export async function applyRow(
  db: Pick<SyncDatabases, 'source' | 'target'>,
  channel: SyncChannel,
  mapping: SyncMapping,
  key: string,
): Promise<ApplyOutcome> {
  return db.target.transaction(async (trx) => {
    await markApplying(trx);
    await lockRowKeys(trx, channel.name, mapping.target.table, [key]);
    const current: Row | undefined = await db.source(mapping.source.table).where(mapping.source.key, key).first();
    if (!current) {
      await trx(mapping.target.table).where(mapping.target.key, key).delete();
      return 'deleted';
    }
    await upsert(trx, mapping, mapRow(mapping, current));
    return 'upserted';
  });
}

async function upsert(trx: Knex.Transaction, mapping: SyncMapping, row: Row): Promise<void> {
  await trx(mapping.target.table).insert(row).onConflict(mapping.target.key).merge();
}

/**
 * `applyRow` for several keys of one mapping in one target transaction, with
 * the same contract per key: all the keys' row locks are taken (in stripe
 * order, as the backfill takes them) before the source is read, the rows that
 * exist are upserted and the others deleted, and nothing is written until
 * commit. One transaction, one source read and one statement per kind of
 * write instead of one of each per key: the apply worker's group commit.
 * A key whose row the mapping rejects gets its PoisonRowError as its outcome
 * and is not written; the others are. Any other failure fails the whole call.
 */
export async function applyRows(
  db: Pick<SyncDatabases, 'source' | 'target'>,
  channel: SyncChannel,
  mapping: SyncMapping,
  keys: readonly string[],
): Promise<Map<string, ApplyOutcome | PoisonRowError>> {
  const unique = [...new Set(keys)];
  return db.target.transaction(async (trx) => {
    await markApplying(trx);
    await lockRowKeys(trx, channel.name, mapping.target.table, unique);
    const rows: Row[] = await db.source(mapping.source.table).whereRaw('?? = ANY(?)', [mapping.source.key, unique]);
    const current = new Map(rows.map((r) => [keyOf(r, mapping.source.key), r]));
    const outcomes = new Map<string, ApplyOutcome | PoisonRowError>();
    const gone: string[] = [];
    // Rows with the same columns go in one statement; a row without a column must not reset it to its default.
    const upserts = new Map<string, Row[]>();
    for (const key of unique) {
      const row = current.get(key);
      if (!row) {
        gone.push(key);
        outcomes.set(key, 'deleted');
        continue;
      }
      let mapped: Row;
      try {
        mapped = mapRow(mapping, row);
      } catch (err) {
        if (!(err instanceof PoisonRowError)) throw err;
        outcomes.set(key, err);
        continue;
      }
      const shape = Object.keys(mapped).join('\0');
      const group = upserts.get(shape);
      if (group) group.push(mapped);
      else upserts.set(shape, [mapped]);
      outcomes.set(key, 'upserted');
    }
    if (gone.length > 0) await trx(mapping.target.table).whereIn(mapping.target.key, gone).delete();
    for (const group of upserts.values()) {
      await trx(mapping.target.table).insert(group).onConflict(mapping.target.key).merge();
    }
    return outcomes;
  });
}
