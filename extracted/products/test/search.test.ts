import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeIdCursor, encodeRankCursor, RANK_KEY_CEILING } from '../src/products/cursor.ts';
import {
  allPages,
  type Call,
  client,
  createProduct,
  errorCode,
  type Page,
  type Started,
  startMonolith,
  startProductsService,
} from './helpers.ts';

// Search: the monolith's set of matches, ordered by relevance. The same
// products are created on both sides, so ids agree and sets can be compared.

let monolith: Started;
let service: Started;
let callMonolith: Call;
let callService: Call;
const ids = new Map<string, number>();

/** Words the catalogue is made of, so that many queries hit several fields and several products. */
const WORDS = ['lamp', 'desk', 'brass', 'oak', 'shade', 'light', 'table', 'the', 'linen', 'cotton'];

beforeAll(async () => {
  [monolith, service] = await Promise.all([startMonolith(), startProductsService()]);
  callMonolith = client(monolith.url);
  callService = client(service.url);
  const both = async (key: string, body: { name: string; description?: string }) => {
    const sku = `S-${ids.size + 1}`;
    const [m, s] = await Promise.all([
      createProduct(callMonolith, { sku, ...body }),
      createProduct(callService, { sku, ...body }),
    ]);
    expect(s.id).toBe(m.id);
    ids.set(key, s.id);
  };
  // Created in an order where id order and relevance disagree.
  await both('mentions lamp once', { name: 'Writing desk', description: 'Room for a lamp' });
  await both('lampshade', { name: 'Lampshade', description: 'Linen' });
  await both('named lamp', { name: 'Lamp', description: 'Brass, on an oak base' });
  await both('named desk lamp', { name: 'Desk lamp', description: 'Bright lamp for the desk' });
  await both('no lamp', { name: 'Oak table' });
  await both('velvet in description', { name: 'Armchair', description: 'Green velvet' });
  for (const name of ['Velvet cushion', 'Velvet chair', 'Velvet throw']) await both(name, { name });
  // A generated catalogue: every pair of words, in name and description.
  for (let i = 0; i < WORDS.length; i++) {
    for (let j = 0; j < WORDS.length; j += 3) {
      await both(`gen ${i} ${j}`, {
        name: `${WORDS[i]} ${WORDS[j]}`,
        description: `with ${WORDS[(i + j) % WORDS.length]}`,
      });
    }
  }
});
afterAll(async () => {
  await Promise.all([monolith?.close(), service?.close()]);
});

describe('relevance', () => {
  it('ranks a product whose name matches above one whose description mentions the term once', async () => {
    const res = await callService<Page>('GET', '/api/products/search?q=lamp&limit=100');
    expect(res.status).toBe(200);
    const order = res.body.items.map((p) => p.id);
    const at = (key: string) => order.indexOf(ids.get(key) as number);
    expect(at('named lamp')).toBeGreaterThanOrEqual(0);
    expect(at('named lamp')).toBeLessThan(at('mentions lamp once'));
    // Name and description both match: above a name-only match.
    expect(at('named desk lamp')).toBeLessThan(at('named lamp'));
    // Contains "lamp" without the word: still a match, ranked last.
    expect(at('lampshade')).toBe(order.length - 1);
    expect(order).not.toContain(ids.get('no lamp'));
  });

  it('breaks ties by id', async () => {
    const res = await callService<Page>('GET', '/api/products/search?q=velvet');
    // The three names rank alike (one match, in the name): by id among them, then the description match.
    expect(res.body.items.map((p) => p.id)).toEqual(
      ['Velvet cushion', 'Velvet chair', 'Velvet throw', 'velvet in description'].map((k) => ids.get(k)),
    );
  });

  it('orders by id when the term has nothing to rank by (stop words only)', async () => {
    const res = await callService<Page>('GET', '/api/products/search?q=the&limit=100');
    const order = res.body.items.map((p) => p.id);
    expect(order.length).toBeGreaterThan(3);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});

describe('the same matches as the monolith', () => {
  const QUERIES = [...WORDS, 'a', 'am', 'es', 'lamp desk', 'desk lamp', 'LaMp', 'oak base', 'shade linen', 'k', 'x'];

  it.each(QUERIES)('q=%s gives the same set, paged by 4 without repeats or gaps', async (term) => {
    const path = `/api/products/search?q=${encodeURIComponent(term)}&limit=4`;
    const [fromMonolith, fromService] = await Promise.all([allPages(callMonolith, path), allPages(callService, path)]);
    const idsOf = (pages: typeof fromMonolith) => pages.flatMap((p) => p.body.items.map((i) => i.id));
    const serviceIds = idsOf(fromService);
    expect(new Set(serviceIds).size).toBe(serviceIds.length);
    expect([...serviceIds].sort((a, b) => a - b)).toEqual(idsOf(fromMonolith));
    expect(fromService.map((p) => p.body.items.length)).toEqual(fromMonolith.map((p) => p.body.items.length));
  });

  it('pages by relevance in the same order as one large page', async () => {
    const one = await callService<Page>('GET', '/api/products/search?q=lamp&limit=100');
    const paged = await allPages(callService, '/api/products/search?q=lamp&limit=2');
    expect(paged.flatMap((p) => p.body.items)).toEqual(one.body.items);
  });
});

describe('cursors', () => {
  it("continues a search begun at the monolith, with the monolith's cursor, in the monolith's order", async () => {
    const path = '/api/products/search?q=lamp&limit=3';
    const first = await callMonolith<Page>('GET', path);
    expect(first.body.nextCursor).not.toBeNull();
    const rest = await allPages(callService, path, first.body.nextCursor as string);
    const seen = [...first.body.items, ...rest.flatMap((p) => p.body.items)].map((p) => p.id);
    const all = await allPages(callMonolith, path);
    expect(seen).toEqual(all.flatMap((p) => p.body.items.map((i) => i.id)));
  });

  it("issues the monolith's own cursors where its order is the monolith's", async () => {
    const path = '/api/products/search?limit=2';
    const [m, s] = await Promise.all([callMonolith<Page>('GET', path), callService<Page>('GET', path)]);
    expect(s.body.nextCursor).toBe(m.body.nextCursor);
    const next = await callMonolith<Page>('GET', `${path}&cursor=${s.body.nextCursor}`);
    expect(next.status).toBe(200);
  });

  it('issues ranked cursors that the monolith refuses with 400', async () => {
    const s = await callService<Page>('GET', '/api/products/search?q=lamp&limit=2');
    expect(decodeCursor(s.body.nextCursor as string)?.order).toBe('rank');
    const atMonolith = await callMonolith('GET', `/api/products/search?q=lamp&limit=2&cursor=${s.body.nextCursor}`);
    expect(atMonolith.status).toBe(400);
    expect(errorCode(atMonolith)).toBe('PRODUCTS_INVALID_CURSOR');
  });

  it.each([
    ['a rank key at +Infinity', encodeRankCursor(RANK_KEY_CEILING, 1)],
    ['id 0', encodeRankCursor(0, 0)],
    ['an id over int4', encodeRankCursor(5, 2_147_483_648)],
    ['a negative rank key', Buffer.from('r1:-1:5').toString('base64url')],
    ['a fractional rank', Buffer.from('r1:0.5:5').toString('base64url')],
    ['an unknown version', Buffer.from('r2:1:5').toString('base64url')],
    ['trailing text', Buffer.from('p1:5:x').toString('base64url')],
  ])('refuses a cursor with %s with 400 PRODUCTS_INVALID_CURSOR', async (_label, cursor) => {
    const res = await callService('GET', `/api/products/search?q=lamp&cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: { code: 'PRODUCTS_INVALID_CURSOR', message: 'cursor is not one this API returned' },
    });
  });
});

describe('cursor.ts', () => {
  it('round-trips both kinds of cursor', () => {
    expect(decodeCursor(encodeIdCursor(42))).toEqual({ order: 'id', afterId: 42 });
    expect(decodeCursor(encodeRankCursor(1065353216, 7))).toEqual({
      order: 'rank',
      afterRankKey: 1065353216,
      afterId: 7,
    });
    expect(decodeCursor(encodeRankCursor(0, 2_147_483_647))).toEqual({
      order: 'rank',
      afterRankKey: 0,
      afterId: 2_147_483_647,
    });
  });

  it('keeps the largest cursor within the 64 characters the query schema allows', () => {
    expect(encodeRankCursor(RANK_KEY_CEILING - 1, 2_147_483_647).length).toBeLessThanOrEqual(64);
  });
});
