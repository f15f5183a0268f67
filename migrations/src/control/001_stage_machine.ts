import type { Knex } from 'knex';

/**
 * The toolkit's own database ("control"): the stage of each bounded context
 * and every move ever made, who made it, why, and the gate's numbers.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('strangler_contexts', (t) => {
    t.string('context', 64).primary();
    t.string('stage', 16).notNullable().defaultTo('legacy');
    t.integer('canary_percent').notNullable().defaultTo(0);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.string('updated_by', 200).notNullable().defaultTo('system');
  });
  await knex.raw(
    "ALTER TABLE strangler_contexts ADD CONSTRAINT strangler_contexts_stage_known CHECK (stage IN ('legacy', 'sync', 'shadow', 'canary', 'reads', 'writes', 'complete'))",
  );
  await knex.raw(
    'ALTER TABLE strangler_contexts ADD CONSTRAINT strangler_contexts_canary_range CHECK (canary_percent BETWEEN 0 AND 100)',
  );
  await knex.schema.createTable('strangler_stage_history', (t) => {
    t.bigIncrements('id').primary();
    t.string('context', 64).notNullable().references('context').inTable('strangler_contexts');
    t.string('from_stage', 16).notNullable();
    t.string('to_stage', 16).notNullable();
    t.integer('canary_percent');
    t.string('actor', 200).notNullable();
    t.text('reason').notNullable();
    t.boolean('forced').notNullable().defaultTo(false);
    t.jsonb('gate').notNullable().defaultTo('{}');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['context', 'at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('strangler_stage_history');
  await knex.schema.dropTableIfExists('strangler_contexts');
}
