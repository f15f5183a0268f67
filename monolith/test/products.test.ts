import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Call, client, createProduct, errorCode, type ShopCo, startShopCo } from './helpers.ts';

let shop: ShopCo;
let call: Call;

beforeAll(async () => {
  shop = await startShopCo();
  call = client(shop.url);
});
afterAll(() => shop.close());

interface Page {
  items: Array<{ id: number; name: string }>;
  nextCursor: string | null;
}

describe('POST /api/products and GET /api/products/:id', () => {
  it('creates a product and reads it back with the price in cents', async () => {
    const created = await call('POST', '/api/products', {
      body: { sku: 'TEA-001', name: 'Green tea', description: 'Sencha, 100 g', priceCents: 1299, stock: 7 },
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
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
  });

  it('keeps cents exact through the dollars column (no float rounding)', async () => {
    for (const priceCents of [0, 1, 10, 99, 100, 1005, 123456789]) {
      const product = await createProduct(call, { priceCents });
      const read = await call('GET', `/api/products/${product.id}`);
      expect(read.body.priceCents).toBe(priceCents);
    }
  });

  it('answers description null when there is none', async () => {
    const product = await createProduct(call);
    const read = await call('GET', `/api/products/${product.id}`);
    expect(read.body.description).toBeNull();
  });

  it('refuses a duplicate SKU with 409', async () => {
    await createProduct(call, { sku: 'DUP-1' });
    const res = await call('POST', '/api/products', { body: { sku: 'DUP-1', name: 'Again', priceCents: 1, stock: 1 } });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('PRODUCTS_SKU_TAKEN');
  });

  it.each([
    ['a negative price', { sku: 'N-1', name: 'N', priceCents: -1, stock: 1 }],
    ['a fractional price', { sku: 'N-2', name: 'N', priceCents: 10.5, stock: 1 }],
    ['a price as text', { sku: 'N-3', name: 'N', priceCents: '100', stock: 1 }],
    ['negative stock', { sku: 'N-4', name: 'N', priceCents: 1, stock: -3 }],
    ['a SKU with spaces', { sku: 'has space', name: 'N', priceCents: 1, stock: 1 }],
    ['no name', { sku: 'N-5', priceCents: 1, stock: 1 }],
  ])('rejects %s with 400', async (_label, body) => {
    const res = await call('POST', '/api/products', { body });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('answers 404 for an unknown product', async () => {
    const res = await call('GET', '/api/products/424242');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('PRODUCTS_NOT_FOUND');
  });
});

describe('GET /api/products/search', () => {
  beforeAll(async () => {
    for (let i = 1; i <= 7; i++) await createProduct(call, { name: `Lamp model ${i}`, sku: `LAMP-${i}` });
    await createProduct(call, { name: 'Desk', description: 'Fits a lamp on each side', sku: 'DESK-1' });
    await createProduct(call, { name: '100% cotton towel', sku: 'TOWEL-1' });
  });

  it('finds by name or description, case-insensitively', async () => {
    const res = await call<Page>('GET', '/api/products/search?q=LAMP&limit=100');
    expect(res.status).toBe(200);
    expect(res.body.items.map((p) => p.name)).toEqual([
      ...Array.from({ length: 7 }, (_, i) => `Lamp model ${i + 1}`),
      'Desk',
    ]);
    expect(res.body.nextCursor).toBeNull();
  });

  it('pages with a cursor in a stable order, without gaps or repeats', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/api/products/search?q=lamp&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await call<Page>('GET', query);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items.map((p) => p.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(8);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(new Set(seen).size).toBe(8);
  });

  it('treats % and _ as plain characters', async () => {
    const res = await call<Page>('GET', `/api/products/search?q=${encodeURIComponent('100%')}`);
    expect(res.body.items.map((p) => p.name)).toEqual(['100% cotton towel']);
    const none = await call<Page>('GET', `/api/products/search?q=${encodeURIComponent('_amp')}`);
    expect(none.body.items).toEqual([]);
  });

  it('rejects a forged cursor and a bad limit with 400', async () => {
    const forged = await call('GET', '/api/products/search?cursor=bm90LWEtY3Vyc29y');
    expect(forged.status).toBe(400);
    expect(errorCode(forged)).toBe('PRODUCTS_INVALID_CURSOR');
    for (const limit of ['0', '101', 'ten']) {
      const res = await call('GET', `/api/products/search?limit=${limit}`);
      expect(res.status).toBe(400);
    }
  });

  it('refuses a term with a NUL byte with 400 before it reaches Postgres', async () => {
    const res = await call('GET', '/api/products/search?q=lamp%00');
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('answers SQL-looking text as a search, not as SQL', async () => {
    const res = await call<Page>('GET', `/api/products/search?q=${encodeURIComponent("'; DROP TABLE products; --")}`);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([]);
    const still = await call<Page>('GET', '/api/products/search?q=lamp');
    expect(still.body.items.length).toBeGreaterThan(0);
  });
});

describe('PUT /api/products/:id/inventory', () => {
  it('sets the stock', async () => {
    const product = await createProduct(call, { stock: 3 });
    const res = await call('PUT', `/api/products/${product.id}/inventory`, { body: { stock: 40 } });
    expect(res.status).toBe(200);
    expect(res.body.stock).toBe(40);
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(40);
  });

  it('never lets stock go negative', async () => {
    const product = await createProduct(call, { stock: 3 });
    const res = await call('PUT', `/api/products/${product.id}/inventory`, { body: { stock: -1 } });
    expect(res.status).toBe(400);
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(3);
  });

  it('answers 404 for an unknown product', async () => {
    const res = await call('PUT', '/api/products/999999/inventory', { body: { stock: 1 } });
    expect(res.status).toBe(404);
  });
});
