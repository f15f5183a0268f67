import type { Knex } from '@strangler/foundation';
import {
  captureFunctionName,
  notifyChannelName,
  relayAwakeSequenceName,
  type SyncChannel,
  validateChannel,
} from './channel.ts';
import { SyncConfigError } from './errors.ts';

/**
 * Capture: triggers on the source tables write every changed row's key into
 * `strangler_outbox` in the writer's own transaction, so a change is recorded
 * if and only if it commits, and the monolith's code does not change.
 *
 * Contract
 * - One outbox row per changed row: op I (insert), U (update), D (delete). An
 *   update that changes the key also writes a D for the old key.
 * - Only the key is recorded, not the row: the applier re-reads the current
 *   row (read-through), which is what makes apply idempotent and order-insensitive.
 * - Writes made with `strangler.applying = 'on'` (set locally by the applier and
 *   the backfill) are not captured, so forward and reverse never echo.
 * - A commit rings `NOTIFY strangler_outbox_<channel>` unless a relay is awake
 *   and polling (the sequence `strangler_relay_awake_<channel>` says so): the
 *   relay listens while it sleeps. Postgres commits notifying transactions one
 *   at a time, each with its WAL flush, so a NOTIFY per write would cap the
 *   monolith's writes at one commit per flush (see relay.ts for the handshake).
 * - install and remove are idempotent and run in one transaction each.
 *
 * Tables created in the source database (shared by every channel there):
 * - `strangler_outbox` (id, channel, table_name, row_key, op, created_at, relayed_at, applied_at)
 * - `strangler_dead_letters` (id, channel, table_name, row_key, outbox_id, reason, attempts, failed_at)
 */

export const OUTBOX_TABLE = 'strangler_outbox';
export const DEAD_LETTERS_TABLE = 'strangler_dead_letters';

/** The value of the channel's awake sequence while a relay polls; any other value means "NOTIFY". */
export const RELAY_AWAKE = 2;
export const RELAY_ASLEEP = 1;

/** Installing a trigger takes a lock that queues behind long transactions and blocks writers behind it. */
const DDL_LOCK_TIMEOUT = '5s';

const INSTANCE_PREFIX = 'strangler outbox ';

/**
 * Gives the outbox table an identity of its own, kept in its comment: a
 * random id set once, when the table is created. Outbox ids start at 1 again
 * in a new database or a recreated outbox, and BullMQ keeps completed job ids
 * for an hour to deduplicate them, so a job id made of the channel and the
 * outbox id alone would be taken for a job already done and never applied.
 * The relay puts this id into every job id (`jobIdOf`).
 */
async function stampOutboxInstance(knex: Knex | Knex.Transaction): Promise<void> {
  await knex.raw(`
    DO $$ BEGIN
      IF coalesce(obj_description('${OUTBOX_TABLE}'::regclass, 'pg_class'), '') NOT LIKE '${INSTANCE_PREFIX}%' THEN
        EXECUTE format('COMMENT ON TABLE ${OUTBOX_TABLE} IS %L',
                       '${INSTANCE_PREFIX}' || replace(gen_random_uuid()::text, '-', ''));
      END IF;
    END $$`);
}

/** The outbox's identity (see stampOutboxInstance); stamped now if an older version created the table without one. */
export async function outboxInstanceOf(knex: Knex): Promise<string> {
  const read = async () => {
    const { rows } = await knex.raw<{ rows: Array<{ comment: string | null }> }>(
      `SELECT obj_description(to_regclass('${OUTBOX_TABLE}'), 'pg_class') AS comment`,
    );
    const comment = rows[0]?.comment ?? '';
    return comment.startsWith(INSTANCE_PREFIX)
      ? comment.slice(INSTANCE_PREFIX.length, INSTANCE_PREFIX.length + 12)
      : null;
  };
  const found = await read();
  if (found) return found;
  await stampOutboxInstance(knex);
  const stamped = await read();
  if (!stamped) throw new Error(`${OUTBOX_TABLE} has no identity; install capture first`);
  return stamped;
}

/** Creates the outbox and dead-letter tables when missing. Runs inside `installCapture`. */
export async function ensureCaptureTables(knex: Knex | Knex.Transaction): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS ${OUTBOX_TABLE} (
      id bigserial PRIMARY KEY,
      channel text NOT NULL,
      table_name text NOT NULL,
      row_key text NOT NULL,
      op char(1) NOT NULL CHECK (op IN ('I', 'U', 'D')),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      relayed_at timestamptz,
      applied_at timestamptz
    )`);
  await stampOutboxInstance(knex);
  // Partial indexes stay as small as the backlog: the relay scans the first, lag and requeue the second.
  await knex.raw(
    `CREATE INDEX IF NOT EXISTS ${OUTBOX_TABLE}_unrelayed_idx ON ${OUTBOX_TABLE} (channel, id) WHERE relayed_at IS NULL`,
  );
  await knex.raw(
    `CREATE INDEX IF NOT EXISTS ${OUTBOX_TABLE}_unapplied_idx ON ${OUTBOX_TABLE} (channel, id) WHERE applied_at IS NULL`,
  );
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS ${DEAD_LETTERS_TABLE} (
      id bigserial PRIMARY KEY,
      channel text NOT NULL,
      table_name text NOT NULL,
      row_key text NOT NULL,
      outbox_id bigint,
      reason text NOT NULL,
      attempts integer NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      UNIQUE (channel, outbox_id)
    )`);
}

function triggerFunctionSql(channel: SyncChannel): string {
  // The channel name was validated (letters, digits, dashes), so it is safe as a literal.
  return `
    CREATE OR REPLACE FUNCTION ${captureFunctionName(channel)}() RETURNS trigger
    LANGUAGE plpgsql AS $body$
    DECLARE
      key_column text := TG_ARGV[0];
      old_key text;
      new_key text;
    BEGIN
      IF current_setting('strangler.applying', true) = 'on' THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' THEN
        old_key := to_jsonb(OLD) ->> key_column;
      END IF;
      IF TG_OP <> 'DELETE' THEN
        new_key := to_jsonb(NEW) ->> key_column;
      END IF;
      IF TG_OP = 'INSERT' THEN
        INSERT INTO ${OUTBOX_TABLE} (channel, table_name, row_key, op) VALUES ('${channel.name}', TG_TABLE_NAME, new_key, 'I');
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO ${OUTBOX_TABLE} (channel, table_name, row_key, op) VALUES ('${channel.name}', TG_TABLE_NAME, old_key, 'D');
      ELSE
        IF old_key IS DISTINCT FROM new_key THEN
          INSERT INTO ${OUTBOX_TABLE} (channel, table_name, row_key, op) VALUES ('${channel.name}', TG_TABLE_NAME, old_key, 'D');
        END IF;
        INSERT INTO ${OUTBOX_TABLE} (channel, table_name, row_key, op) VALUES ('${channel.name}', TG_TABLE_NAME, new_key, 'U');
      END IF;
      -- Only a sleeping relay needs the bell (relay.ts). The sequence is read outside MVCC: its latest value.
      -- Identical notifications in one transaction are delivered once, at commit.
      IF (SELECT last_value FROM ${relayAwakeSequenceName(channel)}) <> ${RELAY_AWAKE} THEN
        PERFORM pg_notify('${notifyChannelName(channel)}', '');
      END IF;
      RETURN NULL;
    END
    $body$`;
}

async function tableExists(trx: Knex.Transaction, table: string): Promise<boolean> {
  const { rows } = await trx.raw<{ rows: Array<{ oid: string | null }> }>('SELECT to_regclass(?)::text AS oid', [
    table,
  ]);
  return rows[0]?.oid != null;
}

/** Serialises capture DDL from several processes on one database. */
async function lockCaptureDdl(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`SET LOCAL lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
  await trx.raw("SELECT pg_advisory_xact_lock(hashtext('strangler:capture-ddl'))");
}

/**
 * Installs (or reinstalls) the channel's capture on its source tables. Install
 * it BEFORE the backfill starts: the backfill copies what exists, capture
 * carries everything written from then on.
 */
export async function installCapture(knex: Knex, channel: SyncChannel): Promise<void> {
  validateChannel(channel);
  const fn = captureFunctionName(channel);
  await knex.transaction(async (trx) => {
    await lockCaptureDdl(trx);
    // The source tables first, in the mode their DROP TRIGGER needs: a writer locks its table, then its
    // trigger writes the outbox. Taking the outbox first (its CREATE INDEX IF NOT EXISTS) and the table
    // second deadlocked a reinstall against such a writer, and Postgres killed one of the two.
    for (const m of channel.mappings) {
      if (await tableExists(trx, m.source.table))
        await trx.raw(`LOCK TABLE ${m.source.table} IN ACCESS EXCLUSIVE MODE`);
    }
    await ensureCaptureTables(trx);
    // Starts "asleep": writers ring until a relay says it is awake.
    await trx.raw(
      `CREATE SEQUENCE IF NOT EXISTS ${relayAwakeSequenceName(channel)} MINVALUE ${RELAY_ASLEEP} MAXVALUE ${RELAY_AWAKE} START ${RELAY_ASLEEP} NO CYCLE`,
    );
    await trx.raw(triggerFunctionSql(channel));
    for (const m of channel.mappings) {
      if (!(await tableExists(trx, m.source.table))) {
        throw new SyncConfigError(`channel "${channel.name}": source table "${m.source.table}" does not exist`);
      }
      await trx.raw(`DROP TRIGGER IF EXISTS ${fn} ON ${m.source.table}`);
      await trx.raw(
        `CREATE TRIGGER ${fn} AFTER INSERT OR UPDATE OR DELETE ON ${m.source.table} ` +
          `FOR EACH ROW EXECUTE FUNCTION ${fn}('${m.source.key}')`,
      );
    }
  });
}

export interface RemoveCaptureOptions {
  /**
   * Also delete this channel's outbox and dead-letter rows, and drop both
   * tables when no other channel captures in this database.
   */
  dropOutbox?: boolean;
}

/** Removes the channel's triggers and function. Idempotent; the outbox stays unless asked. */
export async function removeCapture(knex: Knex, channel: SyncChannel, opts: RemoveCaptureOptions = {}): Promise<void> {
  validateChannel(channel);
  const fn = captureFunctionName(channel);
  await knex.transaction(async (trx) => {
    await lockCaptureDdl(trx);
    for (const m of channel.mappings) {
      if (await tableExists(trx, m.source.table)) await trx.raw(`DROP TRIGGER IF EXISTS ${fn} ON ${m.source.table}`);
    }
    await trx.raw(`DROP FUNCTION IF EXISTS ${fn}()`);
    await trx.raw(`DROP SEQUENCE IF EXISTS ${relayAwakeSequenceName(channel)}`);
    if (!opts.dropOutbox || !(await tableExists(trx, OUTBOX_TABLE))) return;
    await trx(OUTBOX_TABLE).where({ channel: channel.name }).delete();
    await trx(DEAD_LETTERS_TABLE).where({ channel: channel.name }).delete();
    const { rows } = await trx.raw<{ rows: Array<{ in_use: boolean }> }>(
      `SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname LIKE 'strangler\\_capture\\_%')
           OR EXISTS (SELECT 1 FROM ${OUTBOX_TABLE}) AS in_use`,
    );
    if (rows[0]?.in_use === false) {
      await trx.raw(`DROP TABLE ${OUTBOX_TABLE}, ${DEAD_LETTERS_TABLE}`);
    }
  });
}

/** Whether the channel's trigger is on every one of its source tables (the backfill checks this). */
export async function isCaptureInstalled(knex: Knex, channel: SyncChannel): Promise<boolean> {
  const tables = channel.mappings.map((m) => m.source.table);
  const { rows } = await knex.raw<{ rows: Array<{ table_name: string }> }>(
    `SELECT c.relname AS table_name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgname = ? AND c.relname = ANY(?) AND n.nspname = ANY(current_schemas(false))`,
    [captureFunctionName(channel), tables],
  );
  const found = new Set(rows.map((r) => r.table_name));
  return tables.every((t) => found.has(t));
}
