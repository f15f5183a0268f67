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
 * Keys map to one of `STRIPES` stripes per channel and table (two-int advisory
 * lock: hashtext('<channel>/<table>'), hashtext(key) & 255), so a backfill
 * batch of thousands of keys holds at most 256 locks, within Postgres' shared
 * lock table; two keys on one stripe just wait for each other a moment.
 * Stripes are taken in ascending order, so two batches cannot deadlock.
 */

export const STRIPES = 256;

export async function lockRowKeys(
  trx: Knex.Transaction,
  channel: string,
  table: string,
  keys: readonly string[],
): Promise<void> {
  if (keys.length === 0) return;
  await trx.raw(
    `SELECT pg_advisory_xact_lock(hashtext(?), stripe)
       FROM (SELECT DISTINCT hashtext(k) & ${STRIPES - 1} AS stripe FROM unnest(?::text[]) AS k ORDER BY 1) AS s`,
    [`${channel}/${table}`, [...keys]],
  );
}
