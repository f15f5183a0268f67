import type { Knex } from '@strangler/foundation';
import { mapRow, type Row, type SyncChannel, type SyncMapping } from './channel.ts';
import { markApplying, type SyncDatabases } from './databases.ts';
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
