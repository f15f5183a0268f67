import { type FlagStatus, flagName, type UnleashAdminApi } from '@strangler/flags';
import { type Knex, type Redis, readTrafficWindow, type TrafficWindow } from '@strangler/foundation';
import { DEAD_LETTERS_TABLE, isCaptureInstalled } from '../sync/capture.ts';
import type { SyncChannel } from '../sync/channel.ts';
import type { SyncDatabases } from '../sync/databases.ts';
import { type CaptureLag, captureLag } from '../sync/outbox.ts';
import { backfillStatus } from '../sync/sync-state.ts';
import type { ContextName } from './contexts.ts';
import type { FlagState } from './plan.ts';

/**
 * The numbers the gates and `status` read, one function per source: the
 * source database (capture, lag, dead letters), the target (the backfill
 * checkpoints), Redis (the routers' traffic window), Unleash (the flags).
 * Each may throw; callers wrap them in `measure` (measured.ts).
 */

export interface CaptureMeasure {
  installed: boolean;
  /** Null when capture is not installed. */
  lag: CaptureLag | null;
}

export async function measureCapture(channel: SyncChannel, db: SyncDatabases): Promise<CaptureMeasure> {
  if (!(await isCaptureInstalled(db.source, channel))) return { installed: false, lag: null };
  return { installed: true, lag: await captureLag(channel, { db }) };
}

export interface BackfillMeasure {
  tables: Array<{ table: string; rowsDone: number; rowsTotal: number | null; finished: boolean }>;
  rowsDone: number;
  /** Null when a table's total is not known yet. */
  rowsTotal: number | null;
  /** Every mapped table finished. */
  done: boolean;
}

/** Null when the backfill never started. */
export async function measureBackfill(channel: SyncChannel, db: SyncDatabases): Promise<BackfillMeasure | null> {
  const checkpoints = await backfillStatus(channel, { db });
  if (checkpoints.length === 0) return null;
  const tables = channel.mappings.map((m) => {
    const c = checkpoints.find((cp) => cp.table === m.source.table);
    return {
      table: m.source.table,
      rowsDone: c?.rowsDone ?? 0,
      rowsTotal: c ? (c.totalEstimate === null ? null : Math.max(c.totalEstimate, c.rowsDone)) : null,
      finished: c?.finishedAt != null,
    };
  });
  const totals = tables.map((t) => t.rowsTotal);
  return {
    tables,
    rowsDone: tables.reduce((n, t) => n + t.rowsDone, 0),
    rowsTotal: totals.includes(null) ? null : totals.reduce((n: number, t) => n + (t ?? 0), 0),
    done: tables.every((t) => t.finished),
  };
}

/** Null when the dead-letter table does not exist (capture never installed in this database). */
export async function countDeadLetters(channel: SyncChannel, source: Knex): Promise<number | null> {
  if (!(await source.schema.hasTable(DEAD_LETTERS_TABLE))) return null;
  const [row] = await source(DEAD_LETTERS_TABLE).where({ channel: channel.name }).count<Array<{ n: number }>>('* as n');
  return Number(row?.n ?? 0);
}

export async function measureTraffic(
  redis: Redis,
  context: string,
  windowSeconds: number,
  prefix: string,
): Promise<TrafficWindow> {
  // readTrafficWindow reads a failed bucket as an empty one; a Redis that is away must not read as "no traffic".
  await redis.ping();
  return readTrafficWindow(redis, context, windowSeconds, { prefix });
}

export interface FlagsMeasure {
  /** The context's shadow, reads and writes flags, as the plan compares them. */
  states: FlagState[];
  /** The full statuses, for `--json` and warnings. */
  flags: FlagStatus[];
  killSwitchOn: boolean;
}

export async function measureFlags(api: UnleashAdminApi, context: ContextName): Promise<FlagsMeasure> {
  const all = await api.listFlags();
  const kinds = ['shadow', 'reads', 'writes'] as const;
  const flags: FlagStatus[] = [];
  const states: FlagState[] = [];
  for (const kind of kinds) {
    const flag = all.find((f) => f.name === flagName(context, kind));
    if (!flag) continue;
    flags.push(flag);
    states.push({ kind, exists: flag.exists, enabled: flag.enabled, rolloutPercent: flag.rolloutPercent });
  }
  const killSwitchOn = all.some((f) => f.kind === 'killswitch' && f.effectivePercent > 0);
  return { states, flags, killSwitchOn };
}
