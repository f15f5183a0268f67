import { createKnex, type Knex } from '@strangler/foundation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Call,
  client,
  createProduct,
  errorCode,
  type Page,
  type Started,
  startProductsService,
} from './helpers.ts';

// The service's own route tests, mirroring monolith/test/products.test.ts,
// plus what is new in its schema: cents, the generated search vector, the
// indexes, and ids kept from the monolith.

let service: Started;
let call: Call;
let db: Knex;

beforeAll(async () => {
  service = await startProductsService();
  call = client(service.url);
  db = createKnex({ url: service.db.url });
});
afterAll(async () => {
  await db?.destroy();
  await service?.close();
});

describe('POST /api/products and GET /api/products/:id', () => {
  it('creates a product, stores its price in cents, and reads it back', async () => {
    const created = await call('POST', '/api/products', {
      body: { sku: 'TEA-001', name: '  Green tea ', description: 'Sencha, 100 g', priceCents: 1299, stock: 7 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: created.body.id,
      sku: 'TEA-001',
      name: 'Green tea',
      description: 'Sencha, 100 g',
      priceCents: 1299,
      stock: 7,
    });
    const read = await call('GET', `/api/products/${created.body.id}`);
    expect(read.body).toEqual(created.body);
    const row = await db('products').where({ id: created.body.id }).first();
    expect(row).toMatchObject({ price_cents: 1299, stock: 7, name: 'Green tea' });
  });

  it('keeps the largest price the API accepts exact', async () => {
    const product = await createProduct(call, { priceCents: 9_999_999_999 });
    expect((await call('GET', `/api/products/${product.id}`)).body.priceCents).toBe(9_999_999_999);
  });

  it('refuses a duplicate SKU with 409, case-sensitively', async () => {
    await createProduct(call, { sku: 'DUP-1' });
    const res = await call('POST', '/api/products', { body: { sku: 'DUP-1', name: 'Again', priceCents: 1, stock: 1 } });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: { code: 'PRODUCTS_SKU_TAKEN', message: 'A product with SKU DUP-1 already exists' },
    });
    expect(
      (await call('POST', '/api/products', { body: { sku: 'dup-1', name: 'Other', priceCents: 1, stock: 1 } })).status,
    ).toBe(201);
  });

  it('answers 404 for an unknown product', async () => {
    const res = await call('GET', '/api/products/424242');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'PRODUCTS_NOT_FOUND', message: 'Product 424242 not found' } });
  });
});

describe('PUT /api/products/:id/inventory', () => {
  it('sets the stock and stamps updated_at', async () => {
    const product = await createProduct(call, { stock: 3 });
    await db('products')
      .where({ id: product.id })
      .update({ updated_at: new Date('2020-01-01T00:00:00Z') });
    const res = await call('PUT', `/api/products/${product.id}/inventory`, { body: { stock: 40 } });
    expect(res.status).toBe(200);
    expect(res.body.stock).toBe(40);
    const row = await db('products').where({ id: product.id }).first('stock', 'updated_at');
    expect(row.stock).toBe(40);
    expect((row.updated_at as Date).getFullYear()).toBeGreaterThan(2020);
  });

  it('never lets stock go negative', async () => {
    const product = await createProduct(call, { stock: 3 });
    const res = await call('PUT', `/api/products/${product.id}/inventory`, { body: { stock: -1 } });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(3);
  });
});

describe('the products schema', () => {
  it('computes the search vector itself, from name (A) and description (B), and refuses a write to it', async () => {
    const product = await createProduct(call, { name: 'Walnut shelf', description: 'Holds books' });
    const { rows } = await db.raw('select search::text as search from products where id = ?', [product.id]);
    expect(rows[0].search).toBe("'book':4B 'hold':3B 'shelf':2A 'walnut':1A");
    await expect(
      db('products').insert({ sku: 'GEN-1', name: 'X', price_cents: 1, stock: 1, search: '' }),
    ).rejects.toMatchObject({ code: '428C9' });
  });

  it('keeps ids written by the sync engine, and issues ids past them once the sequence is handed over', async () => {
    await db('products').insert({ id: 5000, sku: 'COPIED-1', name: 'Copied', price_cents: 250, stock: 4 });
    const copied = await call('GET', '/api/products/5000');
    expect(copied.body).toEqual({
      id: 5000,
      sku: 'COPIED-1',
      name: 'Copied',
      description: null,
      priceCents: 250,
      stock: 4,
    });
    const { rows } = await db.raw("select pg_get_serial_sequence('products', 'id') as sequence");
    expect(rows[0].sequence).toBe('public.products_id_seq');
    await db.raw("select setval('products_id_seq', (select max(id) from products))");
    const next = await createProduct(call);
    expect(next.id).toBe(5001);
  });

  it('refuses a negative price', async () => {
    await expect(db('products').insert({ sku: 'NEG-1', name: 'X', price_cents: -1, stock: 1 })).rejects.toMatchObject({
      code: '23514',
      constraint: 'products_price_cents_non_negative',
    });
  });

  it('can answer the matching rule from the trigram indexes', async () => {
    // With sequential scans priced out, the plan shows the indexes can serve both sides of the OR.
    const plan = await db.transaction(async (tx) => {
      await tx.raw('set local enable_seqscan = off');
      const { rows } = await tx.raw(
        "explain select id from products where name ilike '%lamp%' or description ilike '%lamp%'",
      );
      return rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('products_name_trgm_idx');
    expect(plan).toContain('products_description_trgm_idx');
  });
});

describe('GET /api/products/search', () => {
  it('answers full products and a null cursor on the last page', async () => {
    const product = await createProduct(call, { name: 'Quokka plush', description: 'Soft' });
    const res = await call<Page>('GET', '/api/products/search?q=quokka');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [product], nextCursor: null });
  });

  it('finds a term inside a word, as ShopCo does, though full-text search would not', async () => {
    const product = await createProduct(call, { name: 'Thermoflask' });
    const res = await call<Page>('GET', '/api/products/search?q=moflas');
    expect(res.body.items.map((p) => p.id)).toEqual([product.id]);
  });
});
