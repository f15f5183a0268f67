import type { Knex } from 'knex';

/**
 * One move of a context at a time, across every process that moves stages:
 * operators' `pnpm strangler` commands and the guard (guard-run.ts). A
 * transaction-level advisory lock on the control database, tried and never
 * waited for, so a second mover learns at once that it would interleave its
 * flag changes with another's, instead of doing it. The lock ends with the
 * transaction, also when the process dies.
 */

export class MoveInProgressError extends Error {
  constructor(context: string) {
    super(
      `another move of ${context} is in progress (an operator's command or the guard); nothing was changed: retry when it has finished (\`pnpm strangler history ${context}\` shows the moves)`,
    );
    this.name = 'MoveInProgressError';
  }
}

export async function withMoveLock<T>(
  db: Knex,
  context: string,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return db.transaction(async (trx) => {
    const { rows } = (await trx.raw('SELECT pg_try_advisory_xact_lock(hashtext(?)) AS ok', [
      `strangler:move:${context}`,
    ])) as { rows: Array<{ ok: boolean }> };
    if (!rows[0]?.ok) throw new MoveInProgressError(context);
    return work(trx);
  });
}
