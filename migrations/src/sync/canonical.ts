import { createHash } from 'node:crypto';
import type { Row } from './channel.ts';

/**
 * One canonical text form of a row, so "is the target row what the mapping
 * would write?" is a string comparison, and a range of rows has one digest.
 *
 * JS side: each compared value as JSON (Date as its ISO string, so timestamps
 * compare at the millisecond precision JS has), joined by commas; a range is
 * the md5 of its rows' forms joined by newlines, in key order.
 *
 * SQL side: for the column types where Postgres can produce exactly the same
 * text (`sqlCanonicalExpression`), the target computes a range's digest itself
 * and only a digest crosses the wire; for any other type the caller compares
 * fetched rows in JS.
 */

export function canonicalValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'null' : JSON.stringify(value.toISOString());
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return JSON.stringify(`\\x${value.toString('hex')}`);
  return JSON.stringify(value) ?? 'null';
}

export function canonicalRow(row: Row, columns: readonly string[]): string {
  return columns.map((c) => canonicalValue(row[c])).join(',');
}

export const EMPTY_DIGEST = 'empty';

/** md5 over the rows' canonical forms in order; `EMPTY_DIGEST` for no rows (as the SQL side says). */
export function digestOf(canonicalRows: readonly string[]): string {
  if (canonicalRows.length === 0) return EMPTY_DIGEST;
  return createHash('md5').update(canonicalRows.join('\n'), 'utf8').digest('hex');
}

const quote = (column: string) => `"${column}"`;

/**
 * A Postgres expression giving the column's canonical text, or null when the
 * type has no exact equivalent (json key order, float formatting, dates read
 * as local midnight by the driver...). `column` must be a checked identifier.
 */
export function sqlCanonicalExpression(column: string, dataType: string): string | null {
  const c = quote(column);
  switch (dataType) {
    case 'smallint':
    case 'integer':
    case 'bigint':
    case 'boolean':
    case 'text':
    case 'character varying':
    case 'uuid':
      return `coalesce(to_json(${c})::text, 'null')`;
    // The driver reads numeric as a string, as written: "10.50".
    case 'numeric':
      return `coalesce(to_json(${c}::text)::text, 'null')`;
    // Milliseconds, truncated, as the driver's Date keeps them.
    case 'timestamp with time zone':
      return `coalesce(to_json(to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text, 'null')`;
    default:
      return null;
  }
}

/** The whole row's canonical text in SQL, or null when a column's type has no SQL form. */
export function sqlCanonicalRow(columns: readonly string[], types: ReadonlyMap<string, string>): string | null {
  const parts: string[] = [];
  for (const column of columns) {
    const type = types.get(column);
    const expr = type === undefined ? null : sqlCanonicalExpression(column, type);
    if (expr === null) return null;
    parts.push(expr);
  }
  return parts.join(` || ',' || `);
}

export interface KeyDiff {
  /** In the source, not in the target. */
  missing: string[];
  /** In the target, not in the source. */
  extra: string[];
  /** In both, with different compared values. */
  different: string[];
}

/** Compares two key → canonical-row maps. Pure. */
export function diffByKey(source: ReadonlyMap<string, string>, target: ReadonlyMap<string, string>): KeyDiff {
  const diff: KeyDiff = { missing: [], extra: [], different: [] };
  for (const [key, canon] of source) {
    const other = target.get(key);
    if (other === undefined) diff.missing.push(key);
    else if (other !== canon) diff.different.push(key);
  }
  for (const key of target.keys()) if (!source.has(key)) diff.extra.push(key);
  return diff;
}
