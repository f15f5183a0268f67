import type { Knex } from 'knex';

/**
 * The products service's own database (see extracted/products/README.md).
 *
 * `products`:
 * - `id` keeps the monolith's ids: the sync engine inserts them explicitly.
 *   It is a `serial` (what knex's `increments` makes, as in ShopCo), so its
 *   sequence `products_id_seq` is owned by the column and the write cutover
 *   can move it past the monolith's ids before the service issues its own.
 * - Money is integer cents (`price_cents bigint`), not ShopCo's NUMERIC(10,2)
 *   dollars: the API speaks cents, so nothing converts on the way out.
 * - Stock stays a column of `products`, not a table of its own: the sync
 *   engine maps one source row to one target row, and ShopCo keeps stock on
 *   its products row. The checks make a negative stock or price impossible.
 * - `search` is computed by Postgres from name (weight A) and description
 *   (weight B), so it never disagrees with them; writers never set it. The
 *   GIN index serves `@@` matching; ranking (`ts_rank_cd`) reads the column.
 * - The trigram indexes serve the ILIKE '%q%' rule that decides which
 *   products match (the monolith's rule, kept so both sides match the same
 *   set). pg_trgm ships with Postgres's contrib modules and is a trusted
 *   extension: the database owner may create it.
 *
 * `inventory_reservations`: the service's bookkeeping of the reservation saga
 * the monolith's orders and checkout will drive. One row per idempotency key,
 * never deleted (a `released` row with no items is the tombstone that refuses
 * a reserve arriving after its own compensation). Not synced anywhere.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await knex.raw(`
    CREATE TABLE products (
      id serial PRIMARY KEY,
      sku varchar(64) NOT NULL,
      name varchar(200) NOT NULL,
      description text NULL,
      price_cents bigint NOT NULL,
      stock integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') ||
        setweight(to_tsvector('english', coalesce(description, '')), 'B')
      ) STORED,
      CONSTRAINT products_sku_key UNIQUE (sku),
      CONSTRAINT products_price_cents_non_negative CHECK (price_cents >= 0),
      CONSTRAINT products_stock_non_negative CHECK (stock >= 0)
    )
  `);
  await knex.raw('CREATE INDEX products_search_idx ON products USING gin (search)');
  await knex.raw('CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops)');
  await knex.raw('CREATE INDEX products_description_trgm_idx ON products USING gin (description gin_trgm_ops)');

  await knex.raw(`
    CREATE TABLE inventory_reservations (
      key varchar(100) PRIMARY KEY,
      status varchar(16) NOT NULL,
      items jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT inventory_reservations_status_known CHECK (status IN ('held', 'released', 'returned')),
      CONSTRAINT inventory_reservations_items_array CHECK (jsonb_typeof(items) = 'array')
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('inventory_reservations');
  await knex.schema.dropTableIfExists('products');
}
