import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { assertIdentifier, databaseExists, databaseUrlFor, withAdminClient } from '../db.ts';

/**
 * Integration tests get a fresh database per test file, cloned from a
 * migrated template (`CREATE DATABASE ... TEMPLATE`), which takes tens of
 * milliseconds where running migrations would take seconds. The template's
 * name carries a fingerprint of the migrations, so a schema change builds a new
 * template and an unchanged one is reused across runs.
 */

const TEST_DB_PREFIX = 'strangler_t_';
const STALE_AFTER_SECONDS = 6 * 3600;

export async function ensureTemplate(
  serverUrl: string,
  name: string,
  build: (url: string) => Promise<void>,
): Promise<void> {
  assertIdentifier(name);
  const building = assertIdentifier(`${name.slice(0, 40)}_b${randomBytes(4).toString('hex')}`);
  const exists = await withAdminClient(serverUrl, (c) => databaseExists(c, name));
  if (exists) return;
  await withAdminClient(serverUrl, (c) => c.query(`CREATE DATABASE "${building}"`));
  try {
    await build(databaseUrlFor(serverUrl, building));
    await withAdminClient(serverUrl, async (c) => {
      // Another run may have finished the same template first; theirs is as good as ours.
      if (await databaseExists(c, name)) return;
      await c.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
      await c.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE true`);
    });
  } finally {
    await withAdminClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${building}"`));
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function cloneDatabase(serverUrl: string, template: string): Promise<TestDatabase> {
  assertIdentifier(template);
  const stamp = Math.floor(Date.now() / 1000);
  const name = assertIdentifier(`${TEST_DB_PREFIX}${stamp}_${randomBytes(4).toString('hex')}`);
  await withAdminClient(serverUrl, async (c) => {
    // Two clones of one template at the same instant can collide on the
    // template's lock ("being accessed by other users"); retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  return {
    name,
    url: databaseUrlFor(serverUrl, name),
    drop: () =>
      withAdminClient(serverUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }),
  };
}

/** Drops test databases left behind by runs that were killed hours ago. */
export async function dropStaleTestDatabases(serverUrl: string): Promise<number> {
  return withAdminClient(serverUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${TEST_DB_PREFIX}%`,
    ]);
    const cutoff = Date.now() / 1000 - STALE_AFTER_SECONDS;
    let dropped = 0;
    for (const { datname } of rows) {
      const stamp = Number(datname.slice(TEST_DB_PREFIX.length).split('_')[0]);
      if (Number.isFinite(stamp) && stamp < cutoff) {
        await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        dropped++;
      }
    }
    return dropped;
  });
}

/**
 * Drops templates of `prefix` other than `keep`: the schema changed and they
 * will never be cloned again. A template must be unmarked before it can be dropped.
 */
export async function dropOtherTemplates(serverUrl: string, prefix: string, keep: string): Promise<string[]> {
  return withAdminClient(serverUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2',
      [`${prefix.replace(/_/g, '\\_')}%`, keep],
    );
    for (const { datname } of rows) {
      assertIdentifier(datname);
      await c.query(`ALTER DATABASE "${datname}" WITH IS_TEMPLATE false`);
      await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
    return rows.map((r) => r.datname);
  });
}

/**
 * A lock shared by every test file of the run (a Postgres advisory lock on
 * its own connection): files that change shared state, such as the run's
 * Unleash flags, take it in beforeAll and release it in afterAll, so they run
 * one after the other while the rest of the suite stays parallel.
 */
export async function acquireTestLock(serverUrl: string, name: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: databaseUrlFor(serverUrl, 'postgres') });
  await client.connect();
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [`strangler-test:${name}`]);
  return async () => {
    try {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`strangler-test:${name}`]);
    } finally {
      await client.end();
    }
  };
}
