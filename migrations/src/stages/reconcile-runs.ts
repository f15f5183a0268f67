import type { Knex } from 'knex';
import type { ReconcileReport } from '../sync/reconcile.ts';

/**
 * The reconcile runs the stage machine made, in the control database
 * (`strangler_reconcile_runs`): the sync → shadow gate reads the drift of the
 * last one, `status` shows it.
 */

export interface ReconcileRun {
  id: number;
  context: string;
  channel: string;
  /** missing + extra + different, as found (before any repair). */
  drift: number;
  missing: number;
  extra: number;
  different: number;
  unmapped: number;
  repaired: number;
  repairFailed: number;
  rowsCompared: number;
  ms: number;
  actor: string;
  ranAt: Date;
}

interface ReconcileRunRow {
  id: number;
  context: string;
  channel: string;
  drift: number;
  missing: number;
  extra: number;
  different: number;
  unmapped: number;
  repaired: number;
  repair_failed: number;
  rows_compared: number;
  ms: number;
  actor: string;
  ran_at: Date;
}

const toRun = (r: ReconcileRunRow): ReconcileRun => ({
  id: r.id,
  context: r.context,
  channel: r.channel,
  drift: r.drift,
  missing: r.missing,
  extra: r.extra,
  different: r.different,
  unmapped: r.unmapped,
  repaired: r.repaired,
  repairFailed: r.repair_failed,
  rowsCompared: r.rows_compared,
  ms: r.ms,
  actor: r.actor,
  ranAt: r.ran_at,
});

const sum = (report: ReconcileReport, pick: (t: ReconcileReport['tables'][number]) => number): number =>
  report.tables.reduce((n, t) => n + pick(t), 0);

export class ReconcileRunStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  async record(context: string, report: ReconcileReport, actor: string): Promise<ReconcileRun> {
    await this.#db('strangler_contexts').insert({ context }).onConflict('context').ignore();
    const [row] = (await this.#db('strangler_reconcile_runs')
      .insert({
        context,
        channel: report.channel,
        drift: report.drift,
        missing: sum(report, (t) => t.missing.length),
        extra: sum(report, (t) => t.extra.length),
        different: sum(report, (t) => t.different.length),
        unmapped: sum(report, (t) => t.unmapped.length),
        repaired: report.repaired,
        repair_failed: report.repairFailed.length,
        rows_compared: report.rowsCompared,
        ms: report.ms,
        actor,
      })
      .returning('*')) as ReconcileRunRow[];
    return toRun(row as ReconcileRunRow);
  }

  /** The newest run of `channel` for the context, at or after `since` when given. */
  async last(context: string, channel: string, since: Date | null = null): Promise<ReconcileRun | null> {
    const q = this.#db('strangler_reconcile_runs').where({ context, channel }).orderBy('id', 'desc').first();
    if (since) q.where('ran_at', '>=', since);
    const row = (await q) as ReconcileRunRow | undefined;
    return row ? toRun(row) : null;
  }
}
