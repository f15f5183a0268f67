import type { Knex } from 'knex';

/**
 * ShopCo's schema as the legacy app has it: one database where every table
 * references the others. Some of it is deliberately the way legacy apps are,
 * and the extractions migrate away from it (see monolith/README.md):
 *  - users keep one `full_name` column, and `email` as typed (uniqueness is by
 *    `lower(email)`);
 *  - products and orders store money as NUMERIC dollars while the API speaks
 *    integer cents, and payments store cents: two conventions in one schema.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('id').primary();
    t.string('email', 320).notNullable();
    t.string('full_name', 200).notNullable();
    t.text('password_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))');

  await knex.schema.createTable('products', (t) => {
    t.increments('id').primary();
    t.string('sku', 64).notNullable().unique();
    t.string('name', 200).notNullable();
    t.text('description');
    t.decimal('price', 10, 2).notNullable();
    t.integer('stock').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('ALTER TABLE products ADD CONSTRAINT products_price_non_negative CHECK (price >= 0)');
  await knex.raw('ALTER TABLE products ADD CONSTRAINT products_stock_non_negative CHECK (stock >= 0)');

  await knex.schema.createTable('orders', (t) => {
    t.increments('id').primary();
    t.integer('user_id').notNullable().references('id').inTable('users');
    t.string('status', 16).notNullable().defaultTo('pending');
    t.decimal('total', 12, 2).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['user_id']);
  });
  await knex.raw(
    "ALTER TABLE orders ADD CONSTRAINT orders_status_known CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled', 'refunded'))",
  );

  await knex.schema.createTable('order_items', (t) => {
    t.increments('id').primary();
    t.integer('order_id').notNullable().references('id').inTable('orders').onDelete('CASCADE');
    t.integer('product_id').notNullable().references('id').inTable('products');
    t.integer('quantity').notNullable();
    t.decimal('unit_price', 10, 2).notNullable();
    t.index(['order_id']);
  });
  await knex.raw('ALTER TABLE order_items ADD CONSTRAINT order_items_quantity_positive CHECK (quantity > 0)');

  await knex.schema.createTable('payments', (t) => {
    t.increments('id').primary();
    t.integer('order_id').notNullable().references('id').inTable('orders');
    t.integer('amount_cents').notNullable();
    t.string('status', 16).notNullable();
    t.string('card_last4', 4).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['order_id']);
  });
  await knex.raw(
    "ALTER TABLE payments ADD CONSTRAINT payments_status_known CHECK (status IN ('succeeded', 'declined', 'refunded'))",
  );
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['payments', 'order_items', 'orders', 'products', 'users']) {
    await knex.schema.dropTableIfExists(table);
  }
}
