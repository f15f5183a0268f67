import { hashPassword, type Knex } from '@strangler/foundation';
import type { QueryConfig } from 'pg';
import type { DatabaseKind } from '../src/migrator.ts';
import type { ContextName } from '../src/stages/contexts.ts';

/**
 * What `pnpm bench:sync` needs to know about a context: its table, how to
 * fill it, what the COPY baseline does in SQL in place of the mapping, and
 * what the writer changes during the lag measurement. The channel itself
 * comes from the context registry (channel.ts); everything else in run.ts is
 * the same for every context.
 */
export interface BenchContext {
  name: ContextName;
  /** Heading of the context's part of docs/benchmarks.md. */
  title: string;
  /** The migrations of the target database (migrator.ts). */
  serviceSchema: DatabaseKind;
  /** The table, under the same name in the monolith and in the service. */
  table: string;
  /** What a row is, for "1,000,000 <noun>". */
  rowNoun: string;
  /**
   * Inserts the monolith rows numbered `from`..`to` (1-based) in one
   * statement, by generate_series in Postgres: a million rows through the
   * driver would take longer than the benchmark itself.
   */
  fillRange(source: Knex, from: number, to: number): Promise<void>;
  /**
   * The COPY baseline's query on the monolith: the mapping done in SQL, one
   * output column per entry of `copyColumns`, in table (= id) order.
   */
  copySelect: string;
  /** The target columns COPY writes; never a generated one, Postgres computes those. */
  copyColumns: readonly string[];
  /** How the baseline stands in for the mapping, for the table row's label. */
  copyNote: string;
  /**
   * The writer's `i`-th statement of the lag measurement: an update of one
   * of the `existing` rows or an insert whose unique values contain `tag`
   * and `i`, so no two writes of a run collide.
   */
  write(i: number, tag: string, existing: number): QueryConfig;
}

const randomId = (existing: number): number => 1 + Math.floor(Math.random() * existing);

let benchPasswordHash: Promise<string> | undefined;

/**
 * The monolith's users: unique emails, a mix of names (most "First Last", one
 * in ten a single word, one in ten a last name with spaces), a real scrypt hash
 * for everyone, distinct timestamps. Four in five writes rename a random user,
 * one in five signs a new one up.
 */
const users: BenchContext = {
  name: 'users',
  title: 'Users',
  serviceSchema: 'users',
  table: 'users',
  rowNoun: 'users',
  async fillRange(source, from, to) {
    // One hash for everyone: scrypt is slow on purpose, and the mapping copies it untouched.
    benchPasswordHash ??= hashPassword('bench-password');
    await source.raw(
      `INSERT INTO users (email, full_name, password_hash, created_at, updated_at)
       SELECT 'user' || g || '@bench.example',
              CASE WHEN g % 10 = 0 THEN 'Mononym' || g
                   WHEN g % 10 = 1 THEN 'Maria ' || g || ' de la Cruz'
                   ELSE 'First' || g || ' Last' || g END,
              ?, now() - g * interval '1 minute', now() - g * interval '1 second'
         FROM generate_series(?::int, ?::int) AS g`,
      [await benchPasswordHash, from, to],
    );
  },
  // The users mapping (contexts/users.ts) as close as SQL gets: splitName cuts
  // at the first U+0020, split_part and substr do the same.
  copySelect: `SELECT id, email, split_part(full_name, ' ', 1),
         CASE WHEN strpos(full_name, ' ') > 0 THEN substr(full_name, strpos(full_name, ' ') + 1) ELSE '' END,
         password_hash, created_at, updated_at
    FROM users`,
  copyColumns: ['id', 'email', 'first_name', 'last_name', 'password_hash', 'created_at', 'updated_at'],
  copyNote: 'name split in SQL',
  write(i, tag, existing) {
    return Math.random() < 0.8
      ? {
          name: 'bench-update-user',
          text: 'UPDATE users SET full_name = $2, updated_at = clock_timestamp() WHERE id = $1',
          values: [randomId(existing), `Renamed ${tag}-${i} Writer`],
        }
      : {
          name: 'bench-insert-user',
          text: 'INSERT INTO users (email, full_name, password_hash) VALUES ($1, $2, $3)',
          values: [
            `writer-${process.pid}-${tag}-${i}@bench.example`,
            `New ${tag}-${i}`,
            'scrypt$16384$8$1$bench$bench',
          ],
        };
  },
};

// Words the catalogue is built from. Their counts are pairwise coprime, so
// name and description combine them differently row after row, and the
// service's full-text and trigram indexes see a realistic vocabulary instead
// of one string repeated.
const ADJECTIVES = [
  'Compact',
  'Rustic',
  'Modern',
  'Classic',
  'Foldable',
  'Heavy-duty',
  'Minimal',
  'Vintage',
  'Ergonomic',
  'Portable',
  'Handmade',
];
const MATERIALS = [
  'oak',
  'walnut',
  'steel',
  'aluminium',
  'bamboo',
  'linen',
  'ceramic',
  'glass',
  'wool',
  'leather',
  'cotton',
  'copper',
  'marble',
];
const THINGS = [
  'desk',
  'lamp',
  'chair',
  'shelf',
  'kettle',
  'blanket',
  'mug',
  'backpack',
  'stool',
  'mirror',
  'clock',
  'planter',
  'rug',
  'bench',
  'vase',
  'tray',
  'cabinet',
];
const ROOMS = ['kitchen', 'living room', 'office', 'bedroom', 'hallway', 'garden', 'workshop'];
const FEATURES = [
  'Assembles in minutes without tools',
  'Wipes clean with a damp cloth',
  'Ships flat in recycled packaging',
  'Finished by hand and signed by its maker',
  'Scratch-resistant coating on every surface',
  'Backed by a five-year warranty',
  'Stacks neatly when not in use',
  'Made to order in small batches',
  'Water-resistant and easy to store',
];
const sqlArray = (words: readonly string[]): string =>
  `ARRAY[${words.map((w) => `'${w.replace(/'/g, "''")}'`).join(', ')}]`;
const pick = (words: readonly string[], index: string): string =>
  `(${sqlArray(words)})[1 + (${index}) % ${words.length}]`;

/**
 * The monolith's products: unique SKUs, names and descriptions combined from
 * the lists above with a per-row model code (one in ten without a
 * description, which the column allows), prices with cents from $0.99 to
 * $500, stock from 0 to 999, distinct timestamps.
 *
 * Three in five writes take stock off a random product, as ShopCo's orders do
 * (restocking it when it runs short, so the stock check never refuses a
 * write); one in five changes a price; one in five adds a product with a new
 * SKU.
 */
const products: BenchContext = {
  name: 'products',
  title: 'Products',
  serviceSchema: 'products',
  table: 'products',
  rowNoun: 'products',
  async fillRange(source, from, to) {
    await source.raw(
      `INSERT INTO products (sku, name, description, price, stock, created_at, updated_at)
       SELECT 'SKU-' || lpad(g::text, 9, '0'),
              ${pick(ADJECTIVES, 'g')} || ' ' || ${pick(MATERIALS, 'g / 3')} || ' ' || ${pick(THINGS, 'g / 7')},
              CASE WHEN g % 10 = 0 THEN NULL
                   ELSE 'A ' || lower(${pick(ADJECTIVES, 'g / 5')}) || ' ' || ${pick(THINGS, 'g')} || ' in '
                        || ${pick(MATERIALS, 'g / 11')} || ' for the ' || ${pick(ROOMS, 'g / 2')} || '. '
                        || ${pick(FEATURES, 'g / 13')} || '. Model ' || upper(substr(md5(g::text), 1, 8)) || '.'
              END,
              ((g::bigint * 7919) % 50000 + 99) / 100.0,
              (g::bigint * 31) % 1000,
              now() - g * interval '1 minute', now() - g * interval '1 second'
         FROM generate_series(?::int, ?::int) AS g`,
      [from, to],
    );
  },
  // The products mapping (contexts/products.ts) in SQL: dollarsToCents is
  // exact on NUMERIC(10,2), and so is multiplying by 100 before the cast.
  copySelect: `SELECT id, sku, name, description, (price * 100)::bigint, stock, created_at, updated_at
    FROM products`,
  copyColumns: ['id', 'sku', 'name', 'description', 'price_cents', 'stock', 'created_at', 'updated_at'],
  copyNote: 'price to cents in SQL',
  write(i, tag, existing) {
    const n = Math.random();
    if (n < 0.6) {
      return {
        name: 'bench-take-stock',
        text: `UPDATE products SET stock = CASE WHEN stock >= $2 THEN stock - $2 ELSE stock + 100 END,
                      updated_at = clock_timestamp()
                WHERE id = $1`,
        values: [randomId(existing), 1 + Math.floor(Math.random() * 3)],
      };
    }
    if (n < 0.8) {
      return {
        name: 'bench-reprice',
        text: 'UPDATE products SET price = $2, updated_at = clock_timestamp() WHERE id = $1',
        values: [randomId(existing), ((99 + Math.floor(Math.random() * 50_000)) / 100).toFixed(2)],
      };
    }
    return {
      name: 'bench-insert-product',
      text: 'INSERT INTO products (sku, name, description, price, stock) VALUES ($1, $2, $3, $4, $5)',
      values: [
        `W-${process.pid}-${tag}-${i}`,
        `New ${tag} product ${i}`,
        `Added by the writer at ${tag}, write ${i}.`,
        '19.99',
        50,
      ],
    };
  },
};

/** In the order `--context all` measures them. */
export const BENCH_CONTEXTS: readonly BenchContext[] = [users, products];
