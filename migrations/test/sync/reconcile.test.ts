import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalRow, digestOf, sqlCanonicalRow } from '../../src/sync/canonical.ts';
import { installCapture, reconcile, runBackfill, type SyncChannel, type SyncMapping } from '../../src/sync/index.ts';
import { channelOf, expectNoDrift, openSyncFixture, type SyncFixture, usersMapping } from './harness.ts';

const ROWS = 3000;

let fx: SyncFixture;
let ids: number[] = [];
let channel: SyncChannel;

beforeAll(async () => {
  fx = await openSyncFixture({ redisDb: 14 });
  const { rows } = await fx.sourceKnex.raw<{ rows: Array<{ id: number }> }>(
    `INSERT INTO users (email, full_name, password_hash, updated_at)
     SELECT 'rec-' || g || '@example.test', 'Rec ' || g, 'x', clock_timestamp() - g * interval '1 second'
       FROM generate_series(1, ?) AS g RETURNING id`,
    [ROWS],
  );
  ids = rows.map((r) => r.id);
  channel = channelOf(fx, 'reconcile-forward', [usersMapping()], 'sync-reconcile-test');
  await installCapture(fx.sourceKnex, channel);
  await runBackfill(channel, { batchSize: 1000 });
});

afterAll(async () => {
  await fx?.close();
});

const at = (i: number): number => {
  const id = ids[i];
  if (id === undefined) throw new Error(`no seeded row ${i}`);
  return id;
};

describe('reconcile', () => {
  it('finds missing, extra and different rows by key after the target is corrupted, and repair brings drift to 0', async () => {
    const clean = await expectNoDrift(channel);
    expect(clean.rowsCompared).toBe(ROWS);

    const missing = [at(0), at(1500), at(ROWS - 1)];
    const different = [at(10), at(2000), at(2001)];
    const extra = [-5, at(ROWS - 1) + 1000];
    await fx.targetKnex('copy_users').whereIn('id', missing).delete();
    await fx
      .targetKnex('copy_users')
      .where({ id: at(10) })
      .update({ name: 'Tampered' });
    await fx
      .targetKnex('copy_users')
      .where({ id: at(2000) })
      .update({ email: 'REC-2001@example.test' });
    // One millisecond off is a difference; the microseconds JS cannot see are not.
    await fx
      .targetKnex('copy_users')
      .where({ id: at(2001) })
      .update({ updated_at: fx.targetKnex.raw("updated_at + interval '1 millisecond'") });
    await fx
      .targetKnex('copy_users')
      .insert(extra.map((id) => ({ id, email: `ghost${id}@example.test`, name: 'Ghost', updated_at: new Date() })));

    const report = await reconcile(channel, { rangeSize: 1000 });
    const drift = report.tables[0];
    expect(drift?.missing.map(Number).sort((a, b) => a - b)).toEqual(missing);
    expect(drift?.extra.map(Number).sort((a, b) => a - b)).toEqual(extra);
    expect(drift?.different.map(Number).sort((a, b) => a - b)).toEqual(different);
    expect(report.drift).toBe(8);
    // Bisection: a few dozen range checks for 3000 rows, not one per row.
    expect(report.rangesCompared).toBeGreaterThan(3);
    expect(report.rangesCompared).toBeLessThan(120);

    const repaired = await reconcile(channel, { rangeSize: 1000, repair: true });
    expect(repaired).toMatchObject({ drift: 8, repaired: 8, repairFailed: [] });
    await expectNoDrift(channel);
    expect(
      await fx
        .targetKnex('copy_users')
        .where({ id: at(10) })
        .first(),
    ).toMatchObject({ name: 'Rec 11' });
  });

  it('ignores sub-millisecond differences: timestamps compare as ISO strings', async () => {
    await fx
      .targetKnex('copy_users')
      .where({ id: at(5) })
      .update({
        updated_at: fx.targetKnex.raw("date_trunc('milliseconds', updated_at) + interval '999 microseconds'"),
      });
    await fx
      .sourceKnex('users')
      .where({ id: at(6) })
      .update({ updated_at: fx.sourceKnex.raw("date_trunc('milliseconds', updated_at) + interval '1 microsecond'") });
    await expectNoDrift(channel);
  });

  it('computes in SQL exactly the canonical form JS computes, for every column type it hashes in SQL', async () => {
    await fx.targetKnex.raw(`CREATE TABLE typed (
      id integer PRIMARY KEY, small smallint, big bigint, price numeric(10, 2), label text, code varchar(20),
      ref uuid, flag boolean, at timestamptz)`);
    const rows = [
      {
        id: 1,
        small: 1,
        big: 9007199254740991,
        price: '10.50',
        label: 'plain',
        code: 'A',
        ref: '2b0f7c1e-6a53-4d3e-9c1f-1b2c3d4e5f60',
        flag: true,
        at: '2024-05-01 10:00:00.123456+00',
      },
      {
        id: 2,
        small: -3,
        big: -1,
        price: '0.00',
        label: 'quote " back\\ slash / é ☃ 𝄞',
        code: '',
        ref: null,
        flag: false,
        at: '1999-12-31 23:59:59.999999+02',
      },
      {
        id: 3,
        small: null,
        big: null,
        price: null,
        label: 'new\nline\ttab\u0001ctl',
        code: null,
        ref: null,
        flag: null,
        at: null,
      },
      {
        id: 4,
        small: 0,
        big: 0,
        price: '-99999999.99',
        label: '',
        code: 'comma,sep',
        ref: null,
        flag: true,
        at: '0099-01-01 00:00:00.5+00',
      },
    ];
    await fx.targetKnex('typed').insert(rows);
    const columns = ['id', 'small', 'big', 'price', 'label', 'code', 'ref', 'flag', 'at'];
    const types: Map<string, string> = new Map(
      (
        await fx
          .targetKnex('information_schema.columns')
          .select('column_name', 'data_type')
          .where({ table_name: 'typed' })
      ).map((r: { column_name: string; data_type: string }) => [r.column_name, r.data_type]),
    );
    const expr = sqlCanonicalRow(columns, types);
    expect(expr).not.toBeNull();
    const fromSql: Array<{ id: number; canon: string }> = (
      await fx.targetKnex.raw(`SELECT id, ${expr} AS canon FROM typed ORDER BY id`)
    ).rows;
    const fromJs = (await fx.targetKnex('typed').orderBy('id')).map((r: Record<string, unknown>) =>
      canonicalRow(r, columns),
    );
    expect(fromSql.map((r) => r.canon)).toEqual(fromJs);
    const [digest] = (await fx.targetKnex.raw(`SELECT md5(string_agg(${expr}, E'\\n' ORDER BY id)) AS d FROM typed`))
      .rows as Array<{ d: string }>;
    expect(digest?.d).toBe(digestOf(fromJs));
  });

  it('compares types with no SQL form (jsonb) by fetching rows, and still finds the row that differs', async () => {
    await fx.targetKnex.raw(
      'CREATE TABLE profiles (id integer PRIMARY KEY, email text NOT NULL, profile jsonb NOT NULL)',
    );
    const profiles: SyncMapping = {
      name: 'profiles',
      source: { table: 'users', key: 'id' },
      target: { table: 'profiles', key: 'id' },
      toTarget: (r) => ({ id: r.id, email: r.email, profile: { name: r.full_name } }),
    };
    const json: SyncChannel = { ...channel, name: 'reconcile-json', mappings: [profiles] };
    await installCapture(fx.sourceKnex, json);
    await runBackfill(json, { batchSize: 1000 });
    await expectNoDrift(json);
    await fx
      .targetKnex('profiles')
      .where({ id: at(42) })
      .update({ profile: { name: 'Someone else' } });
    const report = await reconcile(json, { rangeSize: 1000, repair: true });
    expect(report.tables[0]?.different).toEqual([String(at(42))]);
    await expectNoDrift(json);
  });
});
