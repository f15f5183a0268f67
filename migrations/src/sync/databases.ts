import { createKnex, type Knex } from '@strangler/foundation';
import type { SyncChannel } from './channel.ts';

/**
 * The two Postgres connections a sync step works with. Long-running parts
 * (relay, worker) open their own; one-shot calls (lag, dead letters, backfill,
 * reconcile) accept an open pair so a CLI or status loop can reuse one, and
 * otherwise open and close their own.
 */
export interface SyncDatabases {
  source: Knex;
  target: Knex;
  close(): Promise<void>;
}

export function openSyncDatabases(
  channel: SyncChannel,
  opts: { poolMax?: number; applicationName?: string } = {},
): SyncDatabases {
  const pool = { max: opts.poolMax ?? 4 };
  const name = opts.applicationName ?? `strangler-sync-${channel.name}`;
  const source = createKnex({ url: channel.sourceUrl, pool, applicationName: name });
  const target = createKnex({ url: channel.targetUrl, pool, applicationName: name });
  return {
    source,
    target,
    close: async () => {
      await Promise.all([source.destroy(), target.destroy()]);
    },
  };
}

/** Runs `fn` with `given` when there is one, else with a pair opened for the call and closed after it. */
export async function withSyncDatabases<T>(
  channel: SyncChannel,
  given: SyncDatabases | undefined,
  fn: (db: SyncDatabases) => Promise<T>,
  { poolMax = 2 }: { poolMax?: number } = {},
): Promise<T> {
  if (given) return fn(given);
  const db = openSyncDatabases(channel, { poolMax });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Inside a target transaction: the writes that follow are not captured again (no echo between channels). */
export async function markApplying(trx: Knex.Transaction): Promise<void> {
  await trx.raw("SELECT set_config('strangler.applying', 'on', true)");
}
