import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

// Postgres BIGINT (int8) and NUMERIC come back as strings by default. Our ids
// are integers well within 2^53 and counts come as int8, so parse int8 as a
// number. NUMERIC stays a string: money is converted explicitly where read.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export interface DatabaseOptions {
  /** Postgres connection URL. */
  url: string;
  pool?: { min?: number; max?: number };
  /** Fail a query that waits longer than this for a pooled connection. */
  acquireTimeoutMs?: number;
  applicationName?: string;
}

export function createKnex({ url, pool, acquireTimeoutMs = 5_000, applicationName }: DatabaseOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      ...(applicationName ? { application_name: applicationName } : {}),
      connectionTimeoutMillis: 5_000,
    },
    pool: { min: pool?.min ?? 0, max: pool?.max ?? 10 },
    acquireConnectionTimeout: acquireTimeoutMs,
  });
}

/** The same server as `url`, another database. */
export function databaseUrlFor(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a safe Postgres identifier`);
  return name;
}

/** Runs `fn` with a one-connection client to the server's maintenance database. */
export async function withAdminClient<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: databaseUrlFor(serverUrl, 'postgres'),
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/** Creates the database of `url` when it does not exist; returns whether it did. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = assertIdentifier(databaseNameOf(url));
  return withAdminClient(url, async (client) => {
    if (await databaseExists(client, name)) return false;
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // Another process created it between our check and our create.
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  });
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  '57P01', // admin_shutdown: the backend was terminated
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/** Whether `err` means the database cannot be reached right now (answer 503, not 500). */
export function isUnavailableError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  if (name === 'KnexTimeoutError') return true;
  return typeof message === 'string' && /Connection terminated|connection timeout/i.test(message);
}

/** Whether `err` is Postgres' unique_violation, optionally on one named constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | undefined;
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

export type { Knex };
