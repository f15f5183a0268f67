import { setImmediate as nextTurn } from 'node:timers/promises';
import { createKnex, type Knex } from '@strangler/foundation';
import {
  createSeedPlan,
  DEFAULT_BATCH_SIZE,
  generateOrderItems,
  generateOrders,
  generatePayments,
  generateProducts,
  generateUsers,
  type OrderItemSeedRow,
  type OrderSeedRow,
  type PaymentSeedRow,
  type ProductSeedRow,
  plannedRowCounts,
  SEED_PASSWORD,
  SEED_TABLES,
  type SeedOptions,
  type SeedPlan,
  type SeedTable,
  type UserSeedRow,
  userRow,
} from './generate.ts';

/** Called when a table starts (done = 0) and after every batch (done = total at the end). */
export type SeedProgress = (table: SeedTable, done: number, total: number) => void;

export interface SeedDatabaseOptions extends SeedOptions {
  databaseUrl: string;
  /** TRUNCATE the seeded tables first; without it a database holding data is refused. */
  reset?: boolean;
  /** Rows per INSERT statement. */
  batchSize?: number;
  onProgress?: SeedProgress;
}

export interface SeedTableReport {
  table: SeedTable;
  rows: number;
  ms: number;
}

export interface SeedReport {
  tables: SeedTableReport[];
  /** Planning, inserting, resetting sequences and ANALYZE, end to end. */
  totalMs: number;
  /** A seeded account to log in with, or null when no users were seeded. */
  demoLogin: { email: string; password: string } | null;
}

/** The database already holds ShopCo data and `reset` was not asked for. */
export class SeedRefusedError extends Error {
  readonly existing: { users: number; products: number; orders: number };

  constructor(existing: { users: number; products: number; orders: number }) {
    super(
      `the database already has ${existing.users} users, ${existing.products} products and ` +
        `${existing.orders} orders; refusing to seed over them (reset: true deletes them first)`,
    );
    this.name = 'SeedRefusedError';
    this.existing = existing;
  }
}

type PgType = 'int' | 'text' | 'numeric' | 'timestamptz';

interface Batch {
  rows: number;
  /** One Postgres array literal per column, in the order of the statement's parameters. */
  columns: string[];
}

interface TableLoader {
  table: SeedTable;
  sql: string;
  batches(plan: SeedPlan, batchSize: number): Generator<Batch>;
}

type Cell = string | number | null;

/**
 * A Postgres array literal, e.g. `{1,NULL}` or `{"a","say \\"hi\\""}`. Built here
 * rather than by pg, which would build it on sending, once the previous batch
 * is done; here it is built while Postgres still inserts that batch.
 */
export function pgArrayLiteral(values: readonly Cell[]): string {
  const parts = values.map((value) => {
    if (value === null) return 'NULL';
    if (typeof value === 'number') return String(value);
    return `"${value.replace(/[\\"]/g, '\\$&')}"`;
  });
  return `{${parts.join(',')}}`;
}

/**
 * One multi-row INSERT per batch: `unnest` turns one array parameter per
 * column into rows, so a 5000-row batch is one statement with a handful of
 * parameters, instead of 5000 statements or 30000 placeholders.
 */
function tableLoader<Row extends Record<keyof Row, Cell>>(
  table: SeedTable,
  columns: ReadonlyArray<readonly [keyof Row & string, PgType]>,
  generate: (plan: SeedPlan, batchSize: number) => Generator<Row[]>,
): TableLoader {
  const names = columns.map(([name]) => name).join(', ');
  const params = columns.map(([, type]) => `?::${type}[]`).join(', ');
  return {
    table,
    sql: `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${params})`,
    *batches(plan, batchSize) {
      for (const rows of generate(plan, batchSize)) {
        yield { rows: rows.length, columns: columns.map(([name]) => pgArrayLiteral(rows.map((row) => row[name]))) };
      }
    },
  };
}

// In foreign-key order: each table only references tables loaded before it.
const LOADERS: readonly TableLoader[] = [
  tableLoader<UserSeedRow>(
    'users',
    [
      ['id', 'int'],
      ['email', 'text'],
      ['full_name', 'text'],
      ['password_hash', 'text'],
      ['created_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    generateUsers,
  ),
  tableLoader<ProductSeedRow>(
    'products',
    [
      ['id', 'int'],
      ['sku', 'text'],
      ['name', 'text'],
      ['description', 'text'],
      ['price', 'numeric'],
      ['stock', 'int'],
      ['created_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    generateProducts,
  ),
  tableLoader<OrderSeedRow>(
    'orders',
    [
      ['id', 'int'],
      ['user_id', 'int'],
      ['status', 'text'],
      ['total', 'numeric'],
      ['created_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    generateOrders,
  ),
  tableLoader<OrderItemSeedRow>(
    'order_items',
    [
      ['id', 'int'],
      ['order_id', 'int'],
      ['product_id', 'int'],
      ['quantity', 'int'],
      ['unit_price', 'numeric'],
    ],
    generateOrderItems,
  ),
  tableLoader<PaymentSeedRow>(
    'payments',
    [
      ['id', 'int'],
      ['order_id', 'int'],
      ['amount_cents', 'int'],
      ['status', 'text'],
      ['card_last4', 'text'],
      ['created_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    generatePayments,
  ),
];

const TABLE_LIST = SEED_TABLES.join(', ');

async function existingRows(trx: Knex.Transaction): Promise<{ users: number; products: number; orders: number }> {
  const { rows } = await trx.raw<{ rows: Array<{ users: number; products: number; orders: number }> }>(
    `SELECT (SELECT count(*) FROM users) AS users,
            (SELECT count(*) FROM products) AS products,
            (SELECT count(*) FROM orders) AS orders`,
  );
  return rows[0] ?? { users: 0, products: 0, orders: 0 };
}

/**
 * Postgres checks a foreign key with one query per inserted row, which is most
 * of the cost of loading order_items. As Postgres' "Populating a Database"
 * advises, drop them for the load and add them back after: adding one checks
 * every row in a single join. Returns the statements that restore them.
 */
async function dropForeignKeys(trx: Knex.Transaction): Promise<string[]> {
  const { rows } = await trx.raw<{ rows: Array<{ drop: string; add: string }> }>(
    `SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop,
            format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS add
       FROM pg_constraint
      WHERE contype = 'f' AND conrelid = ANY(?::regclass[])
      ORDER BY oid`,
    [[...SEED_TABLES]],
  );
  for (const { drop } of rows) await trx.raw(drop);
  return rows.map(({ add }) => add);
}

/**
 * Sends batch k, then generates batch k+1 while Postgres inserts batch k:
 * on two cores, Node's generating and Postgres' inserting overlap.
 */
async function loadTable(
  trx: Knex.Transaction,
  loader: TableLoader,
  plan: SeedPlan,
  batchSize: number,
  total: number,
  onProgress: SeedProgress,
): Promise<number> {
  let done = 0;
  onProgress(loader.table, 0, total);
  const batches = loader.batches(plan, batchSize);
  let next = batches.next();
  while (!next.done) {
    const { rows, columns } = next.value;
    const inserting = trx.raw(loader.sql, columns).then(() => undefined);
    // Awaited below; this only keeps its failure from going unhandled if generating the next batch throws first.
    inserting.catch(() => {});
    // Let knex put the statement on the wire before the CPU goes to generating the next batch.
    await nextTurn();
    next = batches.next();
    await inserting;
    done += rows;
    onProgress(loader.table, done, total);
  }
  return done;
}

/**
 * Fills ShopCo's five tables with generated data in one transaction: a failed
 * or interrupted seed leaves the database as it was.
 */
export async function seedDatabase(options: SeedDatabaseOptions): Promise<SeedReport> {
  const started = performance.now();
  const { databaseUrl, reset = false, batchSize = DEFAULT_BATCH_SIZE, onProgress = () => {} } = options;
  const plan = await createSeedPlan(options);
  const totals = plannedRowCounts(plan);
  const knex = createKnex({ url: databaseUrl, pool: { max: 1 }, applicationName: 'strangler-seed' });
  try {
    const tables = await knex.transaction(async (trx) => {
      if (reset) {
        await trx.raw(`TRUNCATE ${TABLE_LIST} RESTART IDENTITY CASCADE`);
      } else {
        // Held to commit: a second seeder waits here, then sees our rows and is refused.
        await trx.raw(`LOCK TABLE ${TABLE_LIST} IN EXCLUSIVE MODE`);
        const existing = await existingRows(trx);
        if (existing.users + existing.products + existing.orders > 0) throw new SeedRefusedError(existing);
      }
      const restoreForeignKeys = await dropForeignKeys(trx);
      const reports: SeedTableReport[] = [];
      for (const loader of LOADERS) {
        const tableStarted = performance.now();
        const rows = await loadTable(trx, loader, plan, batchSize, totals[loader.table], onProgress);
        reports.push({ table: loader.table, rows, ms: performance.now() - tableStarted });
      }
      // Checks every seeded row's references; any failure rolls the whole seed back.
      for (const add of restoreForeignKeys) await trx.raw(add);
      // Explicit ids leave the sequences at 1; point them past the seeded rows so the app's inserts succeed.
      for (const table of SEED_TABLES) {
        await trx.raw(`SELECT setval(pg_get_serial_sequence(?, 'id'), COALESCE(max(id), 0) + 1, false) FROM ??`, [
          table,
          table,
        ]);
      }
      return reports;
    });
    // Fresh statistics so the first queries after seeding get sensible plans, not autovacuum's eventual ones.
    await knex.raw(`ANALYZE ${TABLE_LIST}`);
    return {
      tables,
      totalMs: performance.now() - started,
      demoLogin: plan.users > 0 ? { email: userRow(plan, 1).email, password: SEED_PASSWORD } : null,
    };
  } finally {
    await knex.destroy();
  }
}
