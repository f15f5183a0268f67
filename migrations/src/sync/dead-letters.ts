import { type Knex, redactText } from '@strangler/foundation';
import { DEAD_LETTERS_TABLE, OUTBOX_TABLE } from './capture.ts';
import { notifyChannelName, type SyncChannel } from './channel.ts';
import { type SyncDatabases, withSyncDatabases } from './databases.ts';

/**
 * The dead-letter list: rows that could not be applied (the mapping threw, or
 * every retry failed), with the reason. It lives in the source database next
 * to the outbox, not in BullMQ's failed set, so it survives a Redis restart and
 * status lists it with one indexed query. A dead-lettered change does not
 * count as lag and is not re-relayed until `retryDeadLetters` hands it back.
 *
 * A letter carries the row's table and key, never the row: operators see it
 * (`pnpm strangler status`, the cutover's refusal), and a users row holds a
 * password hash. Its reason is redacted (foundation's redact.ts) when it is
 * stored and again when it is read, for letters stored before that.
 */

export interface DeadLetter {
  id: number;
  channel: string;
  table: string;
  key: string;
  /** Null for a row the backfill could not map (it has no outbox row). */
  outboxId: number | null;
  reason: string;
  attempts: number;
  failedAt: Date;
}

interface DeadLetterDbRow {
  id: number;
  channel: string;
  table_name: string;
  row_key: string;
  outbox_id: number | null;
  reason: string;
  attempts: number;
  failed_at: Date;
}

export interface DeadLetterInput {
  table: string;
  key: string;
  outboxId: number | null;
  reason: string;
  attempts: number;
}

/** Records (or, for the same outbox row, updates) a dead letter. */
export async function recordDeadLetter(source: Knex, channel: string, d: DeadLetterInput): Promise<void> {
  const row = {
    channel,
    table_name: d.table,
    row_key: d.key,
    outbox_id: d.outboxId,
    reason: redactText(d.reason).slice(0, 2000),
    attempts: d.attempts,
  };
  if (d.outboxId === null) {
    await source(DEAD_LETTERS_TABLE).insert(row);
    return;
  }
  await source(DEAD_LETTERS_TABLE)
    .insert(row)
    .onConflict(['channel', 'outbox_id'])
    .merge({ reason: row.reason, attempts: row.attempts, failed_at: source.raw('clock_timestamp()') });
}

export async function listDeadLetters(
  channel: SyncChannel,
  opts: { limit?: number; db?: SyncDatabases } = {},
): Promise<DeadLetter[]> {
  return withSyncDatabases(channel, opts.db, async ({ source }) => {
    const rows: DeadLetterDbRow[] = await source(DEAD_LETTERS_TABLE)
      .where({ channel: channel.name })
      .orderBy('id')
      .limit(opts.limit ?? 1000);
    return rows.map((r) => ({
      id: r.id,
      channel: r.channel,
      table: r.table_name,
      key: r.row_key,
      outboxId: r.outbox_id,
      reason: redactText(r.reason),
      attempts: r.attempts,
      failedAt: r.failed_at,
    }));
  });
}

/**
 * Hands dead letters back to the relay (after the row or the mapping was
 * fixed): each becomes a fresh outbox change for its key, and the letter is
 * removed. A fresh outbox row means a fresh job id, so BullMQ's memory of the
 * failed job cannot swallow the retry. Returns how many were retried.
 */
export async function retryDeadLetters(
  channel: SyncChannel,
  opts: { ids?: readonly number[]; db?: SyncDatabases } = {},
): Promise<number> {
  return withSyncDatabases(channel, opts.db, ({ source }) =>
    source.transaction(async (trx) => {
      const q = trx(DEAD_LETTERS_TABLE).where({ channel: channel.name });
      if (opts.ids) q.whereIn('id', opts.ids);
      const letters: DeadLetterDbRow[] = await q.delete().returning('*');
      if (letters.length === 0) return 0;
      await trx(OUTBOX_TABLE).insert(
        letters.map((l) => ({ channel: channel.name, table_name: l.table_name, row_key: l.row_key, op: 'U' })),
      );
      // The superseded outbox rows are settled by the fresh ones (apply reads the current row).
      const superseded = letters.map((l) => l.outbox_id).filter((id): id is number => id !== null);
      if (superseded.length > 0) {
        await trx(OUTBOX_TABLE)
          .whereIn('id', superseded)
          .update({ applied_at: trx.raw('clock_timestamp()') });
      }
      await trx.raw('SELECT pg_notify(?, ?)', [notifyChannelName(channel), '']);
      return letters.length;
    }),
  );
}
