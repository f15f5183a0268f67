import type { Knex } from 'knex';
import { isStage, type Stage } from './stages.ts';

/**
 * The stage of each context and its history, in the control database. A move
 * is one transaction that locks the context's row, checks it is still at the
 * stage the caller saw (two operators cannot both move it), writes the new
 * stage and appends to the history.
 */

export interface ContextRecord {
  context: string;
  stage: Stage;
  canaryPercent: number;
  updatedAt: Date;
  updatedBy: string;
}

export interface HistoryEntry {
  id: number;
  context: string;
  fromStage: Stage;
  toStage: Stage;
  canaryPercent: number | null;
  actor: string;
  reason: string;
  forced: boolean;
  gate: unknown;
  at: Date;
}

export class StaleStageError extends Error {
  constructor(context: string, expected: Stage, actual: Stage) {
    super(`${context} moved to ${actual} while this command expected ${expected}; look at it again and retry`);
    this.name = 'StaleStageError';
  }
}

interface ContextRow {
  context: string;
  stage: string;
  canary_percent: number;
  updated_at: Date;
  updated_by: string;
}

function toRecord(row: ContextRow): ContextRecord {
  if (!isStage(row.stage)) throw new Error(`unknown stage "${row.stage}" stored for ${row.context}`);
  return {
    context: row.context,
    stage: row.stage,
    canaryPercent: row.canary_percent,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

export interface Move {
  context: string;
  from: Stage;
  to: Stage;
  canaryPercent: number;
  actor: string;
  reason: string;
  forced: boolean;
  gate: unknown;
}

export class StageStore {
  readonly #db: Knex;
  constructor(db: Knex) {
    this.#db = db;
  }

  /** The context's record, created at `legacy` the first time it is asked for. */
  async get(context: string): Promise<ContextRecord> {
    await this.#db('strangler_contexts').insert({ context }).onConflict('context').ignore();
    const row = (await this.#db('strangler_contexts').where({ context }).first()) as ContextRow;
    return toRecord(row);
  }

  async list(contexts: readonly string[]): Promise<ContextRecord[]> {
    return Promise.all(contexts.map((c) => this.get(c)));
  }

  async record(move: Move): Promise<ContextRecord> {
    return this.#db.transaction(async (trx) => {
      await trx('strangler_contexts').insert({ context: move.context }).onConflict('context').ignore();
      const current = (await trx('strangler_contexts')
        .where({ context: move.context })
        .forUpdate()
        .first()) as ContextRow;
      if (current.stage !== move.from) throw new StaleStageError(move.context, move.from, current.stage as Stage);
      const [row] = (await trx('strangler_contexts')
        .where({ context: move.context })
        .update({
          stage: move.to,
          canary_percent: move.canaryPercent,
          updated_at: trx.fn.now(),
          updated_by: move.actor,
        })
        .returning('*')) as ContextRow[];
      await trx('strangler_stage_history').insert({
        context: move.context,
        from_stage: move.from,
        to_stage: move.to,
        canary_percent: move.canaryPercent,
        actor: move.actor,
        reason: move.reason,
        forced: move.forced,
        gate: JSON.stringify(move.gate ?? {}),
      });
      return toRecord(row as ContextRow);
    });
  }

  /** When the context last arrived at `stage` by a move (not a canary change); null if it never did. */
  async lastArrivalAt(context: string, stage: Stage): Promise<Date | null> {
    const row = (await this.#db('strangler_stage_history')
      .where({ context, to_stage: stage })
      .whereNot('from_stage', stage)
      .orderBy('id', 'desc')
      .first('at')) as { at: Date } | undefined;
    return row?.at ?? null;
  }

  /** When the context last moved at all (a canary change included); null if it never did. */
  async lastMoveAt(context: string): Promise<Date | null> {
    const row = (await this.#db('strangler_stage_history').where({ context }).orderBy('id', 'desc').first('at')) as
      | { at: Date }
      | undefined;
    return row?.at ?? null;
  }

  /** The canary % of every move into canary, newest first: the steps a setback can go back to. */
  async canaryPercents(context: string, limit = 50): Promise<number[]> {
    const rows = (await this.#db('strangler_stage_history')
      .where({ context, to_stage: 'canary' })
      .orderBy('id', 'desc')
      .limit(limit)
      .select('canary_percent')) as Array<{ canary_percent: number | null }>;
    return rows.flatMap((r) => (r.canary_percent === null ? [] : [r.canary_percent]));
  }

  async history(context: string, limit = 20, actor?: string): Promise<HistoryEntry[]> {
    const rows = await this.#db('strangler_stage_history')
      .where(actor === undefined ? { context } : { context, actor })
      .orderBy('id', 'desc')
      .limit(limit);
    return rows.map((r) => ({
      id: r.id,
      context: r.context,
      fromStage: r.from_stage,
      toStage: r.to_stage,
      canaryPercent: r.canary_percent,
      actor: r.actor,
      reason: r.reason,
      forced: r.forced,
      gate: r.gate,
      at: r.at,
    }));
  }
}
