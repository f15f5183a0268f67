import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createKnex, ensureDatabase } from '@strangler/foundation';
import type { Knex } from 'knex';
import * as stageMachineSchema from './control/001_stage_machine.ts';
import * as reconcileRunsSchema from './control/002_reconcile_runs.ts';
import * as shopcoSchema from './monolith/001_shopco_schema.ts';
import * as orderStockSource from './monolith/002_order_stock_source.ts';
import * as productsSchema from './products/001_products_schema.ts';
import * as usersSchema from './users/001_users_schema.ts';

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

interface NamedMigration {
  name: string;
  /** Source file, for the schema fingerprint. */
  file: URL;
  module: MigrationModule;
}

/**
 * Each database's migrations, in order. Listed explicitly instead of scanned
 * from a folder so the same list runs under node, vitest and a bundler alike.
 */
export const databases = {
  monolith: [
    {
      name: '001_shopco_schema',
      file: new URL('./monolith/001_shopco_schema.ts', import.meta.url),
      module: shopcoSchema,
    },
    {
      name: '002_order_stock_source',
      file: new URL('./monolith/002_order_stock_source.ts', import.meta.url),
      module: orderStockSource,
    },
  ],
  // The users service's own database (extracted/users), not the monolith's.
  users: [
    {
      name: '001_users_schema',
      file: new URL('./users/001_users_schema.ts', import.meta.url),
      module: usersSchema,
    },
  ],
  // The products service's own database (extracted/products), not the monolith's.
  products: [
    {
      name: '001_products_schema',
      file: new URL('./products/001_products_schema.ts', import.meta.url),
      module: productsSchema,
    },
  ],
  // The toolkit's own state: each context's stage and the history of moves.
  control: [
    {
      name: '001_stage_machine',
      file: new URL('./control/001_stage_machine.ts', import.meta.url),
      module: stageMachineSchema,
    },
    {
      name: '002_reconcile_runs',
      file: new URL('./control/002_reconcile_runs.ts', import.meta.url),
      module: reconcileRunsSchema,
    },
  ],
} satisfies Record<string, NamedMigration[]>;

export type DatabaseKind = keyof typeof databases;

function migrationSource(kind: DatabaseKind): Knex.MigrationSource<NamedMigration> {
  const list: NamedMigration[] = databases[kind];
  return {
    getMigrations: async () => list,
    getMigrationName: (m) => m.name,
    getMigration: async (m) => m.module,
  };
}

export interface MigrateResult {
  created: boolean;
  applied: string[];
}

/** Creates the database when missing and applies every pending migration. Idempotent. */
export async function migrateLatest(kind: DatabaseKind, url: string): Promise<MigrateResult> {
  const created = await ensureDatabase(url);
  const knex = createKnex({ url, pool: { max: 2 }, applicationName: `strangler-migrate-${kind}` });
  try {
    const [, applied] = (await knex.migrate.latest({ migrationSource: migrationSource(kind) })) as [number, string[]];
    return { created, applied };
  } finally {
    await knex.destroy();
  }
}

export async function migrateRollback(kind: DatabaseKind, url: string): Promise<string[]> {
  const knex = createKnex({ url, pool: { max: 2 } });
  try {
    const [, reverted] = (await knex.migrate.rollback({ migrationSource: migrationSource(kind) })) as [
      number,
      string[],
    ];
    return reverted;
  } finally {
    await knex.destroy();
  }
}

/** A short hash of a database's migration sources: equal schemas, equal fingerprints. */
export async function schemaFingerprint(kind: DatabaseKind): Promise<string> {
  const hash = createHash('sha256');
  for (const m of databases[kind] as NamedMigration[]) {
    hash.update(m.name);
    hash.update(await readFile(m.file));
  }
  return hash.digest('hex').slice(0, 12);
}
