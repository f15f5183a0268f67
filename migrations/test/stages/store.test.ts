import { createKnex, type Knex } from '@strangler/foundation';
import { freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReconcileRunStore } from '../../src/stages/reconcile-runs.ts';
import { StageStore, StaleStageError } from '../../src/stages/store.ts';
import type { ReconcileReport } from '../../src/sync/reconcile.ts';

let db: TestDatabase;
let knex: Knex;
let store: StageStore;

beforeAll(async () => {
  db = await freshDatabase('control');
  knex = createKnex({ url: db.url });
  store = new StageStore(knex);
});
afterAll(async () => {
  await knex.destroy();
  await db.drop();
});

describe('StageStore', () => {
  it('starts every context at legacy', async () => {
    const [users, products] = await store.list(['users', 'products']);
    expect(users).toMatchObject({ context: 'users', stage: 'legacy', canaryPercent: 0 });
    expect(products?.stage).toBe('legacy');
  });

  it('records a move with who, why, the gate numbers, and keeps the history newest first', async () => {
    await store.record({
      context: 'users',
      from: 'legacy',
      to: 'sync',
      canaryPercent: 0,
      actor: 'ops@example.com',
      reason: 'start the users extraction',
      forced: false,
      gate: { ok: true, reasons: [] },
    });
    await store.record({
      context: 'users',
      from: 'sync',
      to: 'shadow',
      canaryPercent: 0,
      actor: 'ops@example.com',
      reason: 'forced past a lag spike',
      forced: true,
      gate: { ok: false, reasons: ['capture lag 9.0 s (40 rows) is over 5 s'] },
    });
    expect((await store.get('users')).stage).toBe('shadow');
    const history = await store.history('users');
    expect(history.map((h) => `${h.fromStage}→${h.toStage}`)).toEqual(['sync→shadow', 'legacy→sync']);
    expect(history[0]).toMatchObject({ actor: 'ops@example.com', forced: true });
    expect(history[0]?.gate).toEqual({ ok: false, reasons: ['capture lag 9.0 s (40 rows) is over 5 s'] });
  });

  it('refuses a move from a stage the context has already left (two operators at once)', async () => {
    const move = {
      context: 'products',
      from: 'legacy' as const,
      to: 'sync' as const,
      canaryPercent: 0,
      actor: 'a',
      reason: 'r',
      forced: false,
      gate: {},
    };
    const results = await Promise.allSettled([store.record(move), store.record({ ...move, actor: 'b' })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(StaleStageError);
    expect(await store.history('products')).toHaveLength(1);
  });
});

const report = (drift: number): ReconcileReport => ({
  channel: 'users-forward',
  tables: [
    {
      table: 'users',
      missing: Array.from({ length: drift }, (_, i) => String(i)),
      extra: [],
      different: [],
      unmapped: [],
      rangesCompared: 1,
      rowsCompared: 10,
    },
  ],
  drift,
  rangesCompared: 1,
  rowsCompared: 10,
  repaired: 0,
  repairFailed: [],
  aborted: false,
  ms: 3,
});

describe('ReconcileRunStore', () => {
  it('records each run with its counts, and reads the last one since a moment', async () => {
    const runs = new ReconcileRunStore(knex);
    expect(await runs.last('reconciled', 'users-forward')).toBeNull();
    await runs.record('reconciled', report(2), 'ops');
    const second = await runs.record('reconciled', report(0), 'ops');
    expect(await runs.last('reconciled', 'users-forward')).toEqual(second);
    expect(second).toMatchObject({ drift: 0, missing: 0, rowsCompared: 10, actor: 'ops' });
    expect(await runs.last('reconciled', 'users-reverse')).toBeNull();
    expect(await runs.last('reconciled', 'users-forward', new Date(Date.now() + 60_000))).toBeNull();
  });

  it('knows when a context last arrived at a stage, so runs from before a rollback to legacy do not count', async () => {
    expect(await store.lastArrivalAt('users', 'legacy')).toBeNull();
    const shadowAt = await store.lastArrivalAt('users', 'shadow');
    expect(shadowAt).toBeInstanceOf(Date);
    await store.record({
      context: 'users',
      from: 'shadow',
      to: 'shadow',
      canaryPercent: 0,
      actor: 'a',
      reason: 'not a move',
      forced: false,
      gate: {},
    });
    expect(await store.lastArrivalAt('users', 'shadow')).toEqual(shadowAt);
  });
});
