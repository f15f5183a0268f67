import type { Knex } from '@strangler/foundation';

/**
 * Row locks in the target database, shared by everything that writes a
 * channel's rows there (apply, repair, backfill), as transaction-scoped
 * advisory locks.
 *
 * Why: apply reads the source and then writes the target. Two writers on one
 * key must not interleave "A reads old, B reads new, B writes new, A writes
 * old", and the backfill must not insert a row it read before a delete that an
 * applier has since applied (the copy/stream race Ghostferry and gh-ost
 * describe). Each writer takes the key's lock, THEN reads the source, then
 * writes and commits: whoever takes the lock last read the latest state.
 *
 * Each key maps to a stripe per channel and table (two-int advisory lock:
 * hashtext('<channel>/<table>'), stripe), so a batch of thousands of keys
 * holds a bounded number of locks, within Postgres' shared lock table; two
 * keys on one stripe just wait for each other a moment.
 * - A whole-number key (ids, the common case) maps by range: keys k with the
 *   same k >> 6 share a stripe, over 4,096 stripes. A backfill batch of 1,000
 *   consecutive ids takes about 16 of them, so batches over different ranges
 *   run side by side, and an applier's key rarely meets a batch.
 * - Any other key maps by hash to one of 256 further stripes: a batch takes
 *   most of them, and such batches take turns.
 * Stripes are taken in ascending order in one statement, so two writers
 * cannot deadlock on them.
 */

export const RANGE_STRIPES = 4096;
export const HASH_STRIPES = 256;
/** Whole-number keys share a range stripe per 2^RANGE_SHIFT consecutive values. */
const RANGE_SHIFT = 6;

/** The stripe of one key, as SQL over a text value `k` (kept next to its one use so they cannot drift). */
const STRIPE_OF_K = `CASE WHEN k ~ '^[0-9]{1,18}$' THEN ((k::bigint >> ${RANGE_SHIFT}) & ${RANGE_STRIPES - 1})::int
            ELSE ${RANGE_STRIPES} + (hashtext(k) & ${HASH_STRIPES - 1}) END`;

export async function lockRowKeys(
  trx: Knex.Transaction,
  channel: string,
  table: string,
  keys: readonly string[],
): Promise<void> {
  if (keys.length === 0) return;
  await trx.raw(
    `SELECT pg_advisory_xact_lock(hashtext(?), stripe)
       FROM (SELECT DISTINCT ${STRIPE_OF_K} AS stripe FROM unnest(?::text[]) AS k ORDER BY 1) AS s`,
    [`${channel}/${table}`, [...keys]],
  );
}
