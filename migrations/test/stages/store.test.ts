import { createKnex, type Knex } from '@strangler/foundation';
import { freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageStore, StaleStageError } from '../../src/stages/store.ts';

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
