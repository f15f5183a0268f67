import type { Knex } from 'knex';

/**
 * The branch by abstraction for stock (ADR 0013): an order records who took
 * its stock, ShopCo itself (`monolith`, every order before the products
 * extraction reaches `writes`) or the products service (`service`, under the
 * reservation `stock_key`), so cancelling it later gives the stock back the
 * right way whoever owns stock by then.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.string('stock_source', 16).notNullable().defaultTo('monolith');
    t.string('stock_key', 100);
  });
  await knex.raw(
    "ALTER TABLE orders ADD CONSTRAINT orders_stock_source_known CHECK (stock_source IN ('monolith', 'service'))",
  );
  await knex.raw(
    "ALTER TABLE orders ADD CONSTRAINT orders_stock_key_with_service CHECK ((stock_source = 'service') = (stock_key IS NOT NULL))",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropChecks(['orders_stock_source_known', 'orders_stock_key_with_service']);
    t.dropColumn('stock_key');
    t.dropColumn('stock_source');
  });
}
