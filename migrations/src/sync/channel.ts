import { assertIdentifier, redactText } from '@strangler/foundation';
import { PoisonRowError, SyncConfigError } from './errors.ts';

/**
 * What the sync engine syncs, as plain data: a channel is one direction of one
 * bounded context (`users-forward`: monolith → users service, `users-reverse`:
 * back), with one mapping per source table. Every other module derives its
 * names (trigger function, NOTIFY channel, queue, job ids) from here, so
 * forward and reverse can run side by side without sharing anything.
 */

export type Row = Record<string, unknown>;

export interface TableRef {
  table: string;
  /**
   * The primary-key column. One column; its value must be the same in source
   * and target (ShopCo's integer ids are kept by the services), because ranges
   * and jobs address a row by that value, carried as text.
   */
  key: string;
}

export interface SyncMapping {
  /** For reports, e.g. `users`. */
  name: string;
  source: TableRef;
  target: TableRef;
  /**
   * Pure: the target row for a source row, with the values in the JS types the
   * pg driver reads back (Date for timestamps, number for integers, string for
   * text and numeric), so a comparison of mapped and stored rows is exact.
   * Throwing marks the row as poison (dead-letter list).
   */
  toTarget(sourceRow: Row): Row;
  /** Target columns reconcile compares; default: the keys of `toTarget`'s output. */
  compareColumns?: readonly string[];
}

/** Forward: monolith → service. Reverse: service → monolith, same engine, reverse mappings. */
export type SyncDirection = 'forward' | 'reverse';

export interface SyncChannel {
  /** Lowercase letters, digits and dashes, e.g. `users-forward`. */
  name: string;
  direction: SyncDirection;
  /** The database whose changes are captured. */
  sourceUrl: string;
  /** The database the mapped rows are written to. */
  targetUrl: string;
  redisUrl: string;
  mappings: readonly SyncMapping[];
  /** BullMQ key prefix; tests give each file its own. */
  queuePrefix?: string;
}

export const DEFAULT_QUEUE_PREFIX = 'strangler';

const CHANNEL_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const MAX_CHANNEL_NAME = 40;

/** Checks names and identifiers once, so SQL built from them is safe; returns the channel. */
export function validateChannel<C extends SyncChannel>(channel: C): C {
  const problems: string[] = [];
  // Dashes only (no underscores), so the identifier form `users_forward` maps back to one channel.
  if (!CHANNEL_NAME.test(channel.name) || channel.name.length > MAX_CHANNEL_NAME) {
    problems.push(`channel name "${channel.name}" must be lowercase letters, digits and single dashes, at most 40`);
  }
  if (channel.direction !== 'forward' && channel.direction !== 'reverse') {
    problems.push(`direction must be forward or reverse, got "${String(channel.direction)}"`);
  }
  if (channel.mappings.length === 0) problems.push('a channel needs at least one mapping');
  const sourceTables = new Set<string>();
  for (const m of channel.mappings) {
    for (const name of [m.source.table, m.source.key, m.target.table, m.target.key, ...(m.compareColumns ?? [])]) {
      try {
        assertIdentifier(name);
      } catch {
        problems.push(`mapping "${m.name}": "${name}" is not a safe Postgres identifier`);
      }
    }
    // The outbox names a row by its source table, so that table picks exactly one mapping.
    if (sourceTables.has(m.source.table)) problems.push(`two mappings read source table "${m.source.table}"`);
    sourceTables.add(m.source.table);
  }
  if (channel.queuePrefix !== undefined && !/^[a-z0-9_-]+$/i.test(channel.queuePrefix)) {
    problems.push(`queue prefix "${channel.queuePrefix}" must be letters, digits, _ and -`);
  }
  if (problems.length > 0) throw new SyncConfigError(`channel "${channel.name}": ${problems.join('; ')}`);
  return channel;
}

/** `users-forward` → `users_forward`, for SQL object names. */
export function channelIdentifier(channel: Pick<SyncChannel, 'name'>): string {
  return channel.name.replaceAll('-', '_');
}

/** The trigger function (and trigger name) capture installs for this channel. */
export function captureFunctionName(channel: Pick<SyncChannel, 'name'>): string {
  return `strangler_capture_${channelIdentifier(channel)}`;
}

/**
 * A one-value sequence in the source database: 2 while a relay of this channel
 * is awake and polling (the trigger then does not NOTIFY), 1 otherwise. A
 * sequence because it is read and set outside any transaction (relay.ts).
 */
export function relayAwakeSequenceName(channel: Pick<SyncChannel, 'name'>): string {
  return `strangler_relay_awake_${channelIdentifier(channel)}`;
}

/** The LISTEN/NOTIFY channel the capture trigger rings and the relay listens on. */
export function notifyChannelName(channel: Pick<SyncChannel, 'name'>): string {
  return `strangler_outbox_${channelIdentifier(channel)}`;
}

export function queueNameOf(channel: Pick<SyncChannel, 'name'>): string {
  return `sync-${channel.name}`;
}

export function queuePrefixOf(channel: Pick<SyncChannel, 'queuePrefix'>): string {
  return channel.queuePrefix ?? DEFAULT_QUEUE_PREFIX;
}

/**
 * The BullMQ job id of one outbox row: BullMQ keeps one job per id, so relaying
 * the same row twice adds it once. BullMQ 5 rejects a custom id containing ':'
 * (unless it has exactly three parts), hence the dot.
 */
/** A job's id: the channel, the outbox's identity (capture.ts, outboxInstanceOf) and the outbox row's id. */
export function jobIdOf(channel: Pick<SyncChannel, 'name'>, outboxInstance: string, outboxId: number): string {
  return `${channel.name}.${outboxInstance}.${outboxId}`;
}

export function mappingForSourceTable(channel: SyncChannel, table: string): SyncMapping | undefined {
  return channel.mappings.find((m) => m.source.table === table);
}

/**
 * The reverse of a channel: the same databases with the roles swapped, and
 * mappings that turn the service's rows back into the monolith's.
 */
export function reverseChannel(
  forward: SyncChannel,
  reverse: { name: string; mappings: readonly SyncMapping[] },
): SyncChannel {
  return validateChannel({
    ...forward,
    name: reverse.name,
    direction: forward.direction === 'forward' ? 'reverse' : 'forward',
    sourceUrl: forward.targetUrl,
    targetUrl: forward.sourceUrl,
    mappings: reverse.mappings,
  });
}

/** The row key as the engine carries it: text, whatever the column's type. */
export function keyOf(row: Row, column: string): string {
  const value = row[column];
  if (value === null || value === undefined) throw new Error(`row has no value for key column "${column}"`);
  return String(value);
}

/**
 * Runs the mapping on one source row. Whatever goes wrong is the row's fault,
 * not the infrastructure's: a PoisonRowError. The key must survive the mapping
 * unchanged, since both sides address the row by it.
 */
export function mapRow(mapping: SyncMapping, sourceRow: Row): Row {
  const key = keyOf(sourceRow, mapping.source.key);
  let mapped: Row;
  try {
    mapped = mapping.toTarget(sourceRow);
  } catch (err) {
    // The message may quote the row (a JSON.parse error does): it reaches dead letters and BullMQ, so it is redacted.
    const message = redactText((err as Error).message);
    throw new PoisonRowError(mapping.source.table, key, `mapping "${mapping.name}" threw: ${message}`, {
      cause: err,
    });
  }
  if (mapped === null || typeof mapped !== 'object') {
    throw new PoisonRowError(mapping.source.table, key, `mapping "${mapping.name}" did not return a row`);
  }
  const targetKey = mapped[mapping.target.key];
  if (targetKey === null || targetKey === undefined || String(targetKey) !== key) {
    throw new PoisonRowError(
      mapping.source.table,
      key,
      `mapping "${mapping.name}" must keep the key (${mapping.target.key} = ${String(targetKey)})`,
    );
  }
  return mapped;
}
