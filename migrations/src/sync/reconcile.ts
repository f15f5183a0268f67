import type { Knex } from '@strangler/foundation';
import { applyRow } from './apply.ts';
import { canonicalRow, diffByKey, digestOf, EMPTY_DIGEST, type KeyDiff, sqlCanonicalRow } from './canonical.ts';
import { keyOf, mapRow, type Row, type SyncChannel, type SyncMapping, validateChannel } from './channel.ts';
import { type SyncDatabases, withSyncDatabases } from './databases.ts';
import { PoisonRowError } from './errors.ts';

/**
 * reconcile: compares source (mapped) and target, reports the drift by key,
 * and optionally repairs it.
 *
 * How
 * - Walks the source in key ranges of `rangeSize` rows (keyset), mapping each
 *   row with the channel's mapping; a range's digest is the md5 of its rows'
 *   canonical forms (canonical.ts), over the target's compared columns.
 * - The target computes the same digest in SQL over the same key range, so a
 *   matching range costs one aggregate query and no target rows. The source
 *   rows must be read anyway: the mapping is JS.
 * - A range whose digest (or count) differs is bisected on the source's keys
 *   until at most `leafRows` rows remain; only those leaves fetch target rows
 *   and compare them by key. Columns of types without an exact SQL form fall
 *   back to fetching each range's target rows.
 * - Rows found drifting are checked once more by key at the end (`recheck`), so
 *   a change in flight between the two reads is not reported; the rest is drift.
 * - `repair` re-applies each drifting key through `applyRow`, the read-through
 *   path the live sync uses: missing and different rows are upserted, extra
 *   rows (gone from the source) deleted.
 *
 * Compared: `mapping.compareColumns` (plus the key), else the columns of
 * `toTarget`'s output. Timestamps compare as ISO strings (milliseconds).
 */

export interface ReconcileOptions {
  /** Source rows per top-level range. */
  rangeSize?: number;
  /** Bisection stops at ranges of this many source rows. */
  leafRows?: number;
  repair?: boolean;
  /**
   * Re-compare the drifting keys before reporting (default true): at once,
   * then up to `settleRounds` more times `settleMs` apart while some still
   * differ, so a change the live sync is about to apply is not reported as
   * drift. What still differs after that is drift.
   */
  recheck?: boolean;
  settleRounds?: number;
  settleMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: ReconcileProgress) => void;
  db?: SyncDatabases;
}

export interface ReconcileProgress {
  channel: string;
  table: string;
  rowsCompared: number;
  rangesCompared: number;
  drift: number;
}

export interface TableDrift extends KeyDiff {
  /** The mapping's name. */
  table: string;
  /** Source rows the mapping rejects: they cannot be compared (see the dead-letter list). */
  unmapped: string[];
  rangesCompared: number;
  rowsCompared: number;
}

export interface ReconcileReport {
  channel: string;
  tables: TableDrift[];
  /** missing + extra + different, over every table. */
  drift: number;
  rangesCompared: number;
  rowsCompared: number;
  /** Keys re-applied by `repair`. */
  repaired: number;
  /** Keys `repair` could not apply, with the reason. */
  repairFailed: Array<{ table: string; key: string; reason: string }>;
  aborted: boolean;
  ms: number;
}

interface Entry {
  key: string;
  canon: string;
}

interface TableContext {
  db: SyncDatabases;
  mapping: SyncMapping;
  types: ReadonlyMap<string, string>;
  leafRows: number;
  drift: TableDrift;
  unmapped: Set<string>;
}

export async function reconcile(channel: SyncChannel, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  validateChannel(channel);
  const started = Date.now();
  return withSyncDatabases(channel, opts.db, async (db) => {
    const report: ReconcileReport = {
      channel: channel.name,
      tables: [],
      drift: 0,
      rangesCompared: 0,
      rowsCompared: 0,
      repaired: 0,
      repairFailed: [],
      aborted: false,
      ms: 0,
    };
    for (const mapping of channel.mappings) {
      const drift = await reconcileTable(db, channel, mapping, opts);
      if (drift === null) {
        report.aborted = true;
        break;
      }
      if (opts.recheck !== false) {
        await recheck(db, mapping, drift);
        for (let round = 0; round < (opts.settleRounds ?? 3) && driftOf(drift) > 0; round++) {
          await new Promise((r) => setTimeout(r, opts.settleMs ?? 300));
          await recheck(db, mapping, drift);
        }
      }
      report.tables.push(drift);
      report.drift += driftOf(drift);
      report.rangesCompared += drift.rangesCompared;
      report.rowsCompared += drift.rowsCompared;
      if (opts.repair) await repair(db, channel, mapping, drift, report);
    }
    report.ms = Date.now() - started;
    return report;
  });
}

const driftOf = (d: KeyDiff): number => d.missing.length + d.extra.length + d.different.length;

/** Null when the signal stopped it. */
async function reconcileTable(
  db: SyncDatabases,
  channel: SyncChannel,
  mapping: SyncMapping,
  opts: ReconcileOptions,
): Promise<TableDrift | null> {
  const rangeSize = opts.rangeSize ?? 1000;
  const ctx: TableContext = {
    db,
    mapping,
    types: await columnTypes(db.target, mapping.target.table),
    leafRows: Math.max(1, opts.leafRows ?? 8),
    drift: {
      table: mapping.name,
      missing: [],
      extra: [],
      different: [],
      unmapped: [],
      rangesCompared: 0,
      rowsCompared: 0,
    },
    unmapped: new Set(),
  };
  let columns = mapping.compareColumns ? withKey(mapping.target.key, mapping.compareColumns) : null;
  let after: string | null = null;
  for (;;) {
    if (opts.signal?.aborted) return null;
    const q = db.source(mapping.source.table).select('*').orderBy(mapping.source.key).limit(rangeSize);
    if (after !== null) q.where(mapping.source.key, '>', after);
    const rows: Row[] = await q;
    const last = rows.at(-1);
    // The last range is open-ended, so target rows beyond the source's last key count as extra.
    const hi = last && rows.length === rangeSize ? keyOf(last, mapping.source.key) : null;
    const mapped: Array<{ key: string; row: Row }> = [];
    for (const row of rows) {
      try {
        const m = mapRow(mapping, row);
        columns ??= withKey(mapping.target.key, Object.keys(m));
        mapped.push({ key: keyOf(row, mapping.source.key), row: m });
      } catch (err) {
        if (!(err instanceof PoisonRowError)) throw err;
        ctx.unmapped.add(keyOf(row, mapping.source.key));
        ctx.drift.unmapped.push(keyOf(row, mapping.source.key));
      }
    }
    const cols = columns ?? [mapping.target.key];
    const entries = mapped.map((m) => ({ key: m.key, canon: canonicalRow(m.row, cols) }));
    await compareRange(ctx, cols, after, hi, entries);
    opts.onProgress?.({
      channel: channel.name,
      table: mapping.name,
      rowsCompared: ctx.drift.rowsCompared,
      rangesCompared: ctx.drift.rangesCompared,
      drift: ctx.drift.missing.length + ctx.drift.extra.length + ctx.drift.different.length,
    });
    if (hi === null) return ctx.drift;
    after = hi;
  }
}

/** Compares source entries with the target over keys in (lo, hi]; null bounds are open. */
async function compareRange(
  ctx: TableContext,
  columns: readonly string[],
  lo: string | null,
  hi: string | null,
  entries: readonly Entry[],
): Promise<void> {
  ctx.drift.rangesCompared++;
  const rowExpr = sqlCanonicalRow(columns, ctx.types);
  if (rowExpr !== null) {
    const target = await targetDigest(ctx, rowExpr, lo, hi);
    if (target.count === entries.length && target.digest === digestOf(entries.map((e) => e.canon))) {
      ctx.drift.rowsCompared += entries.length;
      return;
    }
    if (entries.length > ctx.leafRows) {
      const mid = Math.floor(entries.length / 2);
      const midKey = entries[mid - 1]?.key ?? lo;
      await compareRange(ctx, columns, lo, midKey, entries.slice(0, mid));
      await compareRange(ctx, columns, midKey, hi, entries.slice(mid));
      return;
    }
  }
  const targetRows: Row[] = await inRange(
    ctx.db.target(ctx.mapping.target.table).select(columns),
    ctx.mapping.target.key,
    lo,
    hi,
  );
  const diff = diffByKey(
    new Map(entries.map((e) => [e.key, e.canon])),
    new Map(
      targetRows
        .map((r): [string, string] => [keyOf(r, ctx.mapping.target.key), canonicalRow(r, columns)])
        .filter(([key]) => !ctx.unmapped.has(key)),
    ),
  );
  ctx.drift.rowsCompared += entries.length;
  ctx.drift.missing.push(...diff.missing);
  ctx.drift.extra.push(...diff.extra);
  ctx.drift.different.push(...diff.different);
}

async function targetDigest(
  ctx: TableContext,
  rowExpr: string,
  lo: string | null,
  hi: string | null,
): Promise<{ count: number; digest: string }> {
  const key = `"${ctx.mapping.target.key}"`;
  const q = ctx.db
    .target(ctx.mapping.target.table)
    .select(
      ctx.db.target.raw('count(*)::int AS count'),
      ctx.db.target.raw(`coalesce(md5(string_agg(${rowExpr}, E'\\n' ORDER BY ${key})), ?) AS digest`, [EMPTY_DIGEST]),
    );
  const [row] = (await inRange(q, ctx.mapping.target.key, lo, hi)) as unknown as Array<{
    count: number;
    digest: string;
  }>;
  return row ?? { count: 0, digest: EMPTY_DIGEST };
}

function inRange(q: Knex.QueryBuilder, key: string, lo: string | null, hi: string | null): Knex.QueryBuilder {
  if (lo !== null) q.where(key, '>', lo);
  if (hi !== null) q.where(key, '<=', hi);
  return q;
}

/** Re-reads the drifting keys on both sides and keeps the ones that still differ. */
async function recheck(db: SyncDatabases, mapping: SyncMapping, drift: TableDrift): Promise<void> {
  const keys = [...drift.missing, ...drift.extra, ...drift.different];
  const next: KeyDiff = { missing: [], extra: [], different: [] };
  const CHUNK = 1000;
  for (let i = 0; i < keys.length; i += CHUNK) {
    const chunk = keys.slice(i, i + CHUNK);
    const [sourceRows, targetRows]: [Row[], Row[]] = await Promise.all([
      db.source(mapping.source.table).select('*').whereIn(mapping.source.key, chunk),
      db.target(mapping.target.table).select('*').whereIn(mapping.target.key, chunk),
    ]);
    const source = new Map(sourceRows.map((r) => [keyOf(r, mapping.source.key), r]));
    const target = new Map(targetRows.map((r) => [keyOf(r, mapping.target.key), r]));
    for (const key of chunk) {
      const s = source.get(key);
      const t = target.get(key);
      if (s === undefined) {
        if (t !== undefined) next.extra.push(key);
        continue;
      }
      let mapped: Row;
      try {
        mapped = mapRow(mapping, s);
      } catch (err) {
        if (err instanceof PoisonRowError) continue; // reported as unmapped, not as drift
        throw err;
      }
      if (t === undefined) {
        next.missing.push(key);
        continue;
      }
      const columns = withKey(mapping.target.key, mapping.compareColumns ?? Object.keys(mapped));
      if (canonicalRow(mapped, columns) !== canonicalRow(t, columns)) next.different.push(key);
    }
  }
  drift.missing = next.missing;
  drift.extra = next.extra;
  drift.different = next.different;
}

async function repair(
  db: SyncDatabases,
  channel: SyncChannel,
  mapping: SyncMapping,
  drift: TableDrift,
  report: ReconcileReport,
): Promise<void> {
  for (const key of [...drift.missing, ...drift.extra, ...drift.different]) {
    try {
      await applyRow(db, channel, mapping, key);
      report.repaired++;
    } catch (err) {
      report.repairFailed.push({ table: mapping.name, key, reason: err instanceof Error ? err.message : String(err) });
    }
  }
}

async function columnTypes(target: Knex, table: string): Promise<Map<string, string>> {
  const rows: Array<{ column_name: string; data_type: string }> = await target('information_schema.columns')
    .select('column_name', 'data_type')
    .where({ table_name: table })
    .whereRaw('table_schema = current_schema()');
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}

function withKey(key: string, columns: readonly string[]): string[] {
  return [key, ...columns.filter((c) => c !== key)];
}
