import { redactText } from '@strangler/foundation';

/**
 * The sync engine's control-flow errors: small named classes callers can test
 * with `instanceof`, in the manner of BullMQ's `UnrecoverableError`.
 */

/** A channel or mapping that cannot work: a bad name, an unsafe identifier, capture not installed. */
export class SyncConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncConfigError';
  }
}

/**
 * A row the mapping cannot turn into a target row (its `toTarget` threw, or the
 * table has no mapping). Retrying cannot help until the row changes, so the
 * applier sends it straight to the dead-letter list.
 */
export class PoisonRowError extends Error {
  readonly table: string;
  readonly key: string;

  constructor(table: string, key: string, reason: string, options?: { cause?: unknown }) {
    super(`${table} ${key}: ${reason}`, options);
    this.name = 'PoisonRowError';
    this.table = table;
    this.key = key;
  }
}

/**
 * One line for a log: the error's name and message, redacted. Never the error
 * object, whose enumerable fields (a Postgres error's `detail`) can quote a row.
 */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return redactText(text);
}
