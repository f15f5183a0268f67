import type { Knex } from 'knex';

/**
 * Every reconcile the stage machine ran, with its result: the sync → shadow
 * gate needs the drift of the last one, and `strangler status` shows it.
 * Counts only; the drifting keys are in the command's own output.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('strangler_reconcile_runs', (t) => {
    t.bigIncrements('id').primary();
    t.string('context', 64).notNullable().references('context').inTable('strangler_contexts');
    t.string('channel', 64).notNullable();
    /** missing + extra + different, as found (before any repair). */
    t.integer('drift').notNullable();
    t.integer('missing').notNullable();
    t.integer('extra').notNullable();
    t.integer('different').notNullable();
    /** Source rows the mapping rejects (they are in the dead-letter list). */
    t.integer('unmapped').notNullable().defaultTo(0);
    t.integer('repaired').notNullable().defaultTo(0);
    t.integer('repair_failed').notNullable().defaultTo(0);
    t.integer('rows_compared').notNullable().defaultTo(0);
    t.integer('ms').notNullable();
    t.string('actor', 200).notNullable();
    t.timestamp('ran_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['context', 'ran_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('strangler_reconcile_runs');
}
