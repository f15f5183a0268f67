import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allPages,
  type Call,
  type CallOptions,
  client,
  type JsonResponse,
  type Page,
  type Started,
  startMonolith,
  startProductsService,
} from './helpers.ts';

/**
 * Contract tests: the same requests, in the same order, against ShopCo and the
 * products service, each on a fresh database. Every answer must be equal
 * (status, content type, JSON body), ids included, because both id sequences
 * start at 1 and both consume an id on a failed insert.
 *
 * One difference is declared: search ORDER. The service orders matches by
 * relevance where ShopCo orders them by id, so a ranked search is compared as
 * a set of products (sorted by id) and its cursors, which are opaque, are
 * compared only as present or absent. Following the cursors to the end must
 * give the same set, in pages of the same sizes, on both sides. Where the
 * service's order is declared to be ShopCo's (no term, or stop words only),
 * pages and cursors are compared exactly.
 */

interface Step {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /** A search whose matches the service orders by relevance: compare as a set. */
  ranked?: boolean;
  /** Follow nextCursor to the last page on each side (with its own cursors) and compare all of it. */
  follow?: boolean;
}

const create = (name: string, body: unknown): Step => ({ name, method: 'POST', path: '/api/products', body });
const product = (sku: string, name: string, description: string | undefined, priceCents = 1999, stock = 10) =>
  create(`create ${sku}`, { sku, name, ...(description === undefined ? {} : { description }), priceCents, stock });
const get = (id: string): Step => ({ name: `get ${id}`, method: 'GET', path: `/api/products/${id}` });
const setStock = (name: string, id: string, body: unknown): Step => ({
  name,
  method: 'PUT',
  path: `/api/products/${id}/inventory`,
  body,
});
const search = (name: string, query: string, extra: Partial<Step> = {}): Step => ({
  name: `search ${name}`,
  method: 'GET',
  path: `/api/products/search${query}`,
  ...extra,
});
const q = (text: string) => encodeURIComponent(text);
const invalid = (name: string, body: unknown) => create(`create with ${name}`, body);
const valid = { sku: 'X-1', name: 'X', priceCents: 1, stock: 1 };

const STEPS: Step[] = [
  product('LAMP-DESK', 'Desk lamp', 'A brass lamp for the desk', 4999, 12),
  product('LAMP-FLOOR', 'Floor lamp', 'Tall, with a linen shade'),
  product('LIGHT-READ', 'Reading light', 'A clamp-on lamp for books', 1250, 3),
  product('SHADE-1', 'Lampshade', undefined, 899, 0),
  product('DESK-1', 'Desk', 'Fits a lamp on each side', 25000, 2),
  product('TOWEL-100', '100% cotton towel', 'Soft; 50% off_sale this week', 1500),
  product('BACKSLASH', 'Path\\to\\nowhere poster', 'A print'),
  product('CAFE-1', 'Café crème mug', 'Ceramic, 300 ml', 0, 0),
  product('PRICEY', 'Gold lamp', 'The most a product can cost', 9_999_999_999, 1_000_000_000),
  product('PADDED', '  Padded name  ', '  Padded description  '),
  product('lamp-desk', 'Desk lamp, lower-case SKU', 'SKUs compare exactly, case included'),
  { ...product('LAMP-DESK', 'Duplicate SKU', 'Refused'), name: 'create a duplicate SKU' },
  invalid('a negative price', { ...valid, priceCents: -1 }),
  invalid('a price over the largest', { ...valid, priceCents: 10_000_000_000 }),
  invalid('a fractional price', { ...valid, priceCents: 10.5 }),
  invalid('a price as text', { ...valid, priceCents: '100' }),
  invalid('negative stock', { ...valid, stock: -3 }),
  invalid('stock over the largest', { ...valid, stock: 1_000_000_001 }),
  invalid('stock as a float', { ...valid, stock: 1.5 }),
  invalid('a SKU with spaces', { ...valid, sku: 'has space' }),
  invalid('a 65-character SKU', { ...valid, sku: 'S'.repeat(65) }),
  invalid('no name', { sku: 'X-1', priceCents: 1, stock: 1 }),
  invalid('a blank name', { ...valid, name: '   ' }),
  invalid('a 201-character name', { ...valid, name: 'n'.repeat(201) }),
  invalid('a 5001-character description', { ...valid, description: 'd'.repeat(5001) }),
  invalid('a null description', { ...valid, description: null }),
  invalid('an unknown field', { ...valid, color: 'red' }),
  invalid('an id of its own', { ...valid, id: 99 }),
  invalid('an array body', [valid]),
  {
    name: 'create with JSON that does not parse',
    method: 'POST',
    path: '/api/products',
    rawBody: '{"sku":',
    headers: { 'content-type': 'application/json' },
  },
  {
    name: 'create with a form body',
    method: 'POST',
    path: '/api/products',
    rawBody: 'sku=X-1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  },
  product('AFTER-FAILURES', 'Lamp oil', 'After the failures: the same id on both sides', 650, 40),

  ...['1', '2', '4', '8', '9', '10', '11', '13', '999999', '2147483647'].map(get),
  ...['abc', '1.5', '-1', '0', '99999999999', '1e3', '0x1', '%20'].map(get),
  { name: 'an unknown route', method: 'GET', path: '/api/products' },

  setStock('set the stock', '2', { stock: 40 }),
  setStock('set the stock to zero', '3', { stock: 0 }),
  setStock('set the stock to the largest', '4', { stock: 1_000_000_000 }),
  setStock('set the stock of an unknown product', '999999', { stock: 1 }),
  setStock('set a negative stock', '2', { stock: -1 }),
  setStock('set a stock over the largest', '2', { stock: 1_000_000_001 }),
  setStock('set the stock as text', '2', { stock: '5' }),
  setStock('set the stock with an unknown field', '2', { stock: 5, price: 1 }),
  setStock('set the stock with an empty body', '2', {}),
  setStock('set the stock of a non-integer id', 'abc', { stock: 5 }),
  {
    ...setStock('set the stock with JSON that does not parse', '2', undefined),
    rawBody: '{',
    headers: { 'content-type': 'application/json' },
  },
  get('2'),
  get('3'),

  search('without a term', ''),
  search('with an empty term', '?q='),
  search('with a blank term', `?q=${q('   ')}`),
  search('for "lamp"', '?q=lamp', { ranked: true }),
  search('for "LAMP" (case-insensitive)', '?q=LAMP', { ranked: true }),
  search('for "desk lamp"', `?q=${q('desk lamp')}`, { ranked: true }),
  search('for "brass"', '?q=brass', { ranked: true }),
  search('for "amp" (inside words only)', '?q=amp', { ranked: true }),
  search('for "%" (literal)', `?q=${q('%')}`, { ranked: true }),
  search('for "100%"', `?q=${q('100%')}`, { ranked: true }),
  search('for "_" (literal)', `?q=${q('_')}`, { ranked: true }),
  search('for "off_sale"', `?q=${q('off_sale')}`, { ranked: true }),
  search('for "_amp" (no match)', `?q=${q('_amp')}`, { ranked: true }),
  search('for a backslash', `?q=${q('\\')}`, { ranked: true }),
  search('for "café"', `?q=${q('café')}`, { ranked: true }),
  search('for "the" (a stop word)', '?q=the'),
  search('for "padded" (stored trimmed name)', '?q=padded', { ranked: true }),
  search('for websearch syntax', `?q=${q('"desk lamp" -floor or ')}`, { ranked: true }),
  search('for SQL-looking text', `?q=${q("'; DROP TABLE products; --")}`, { ranked: true }),
  search('with no match', '?q=nothing-matches-this'),
  search('with limit 1', '?limit=1'),
  search('with limit 100', '?limit=100'),
  search('all pages of 2', '?limit=2', { follow: true }),
  search('all pages of "lamp" by 2', '?q=lamp&limit=2', { ranked: true, follow: true }),
  search('all pages of "lamp" by 1', '?q=lamp&limit=1', { ranked: true, follow: true }),
  search('all pages of "a" by 3', '?q=a&limit=3', { ranked: true, follow: true }),
  search('all pages of "the" by 2', '?q=the&limit=2', { follow: true }),
  search('with limit 0', '?limit=0'),
  search('with limit 101', '?limit=101'),
  search('with limit "ten"', '?limit=ten'),
  search('with a 101-character term', `?q=${'q'.repeat(101)}`),
  search('with a NUL byte in the term (400, not a failed query)', '?q=lamp%00'),
  search('with a forged cursor', '?cursor=bm90LWEtY3Vyc29y'),
  search('with a cursor that is not base64url', `?cursor=${q('a+b/c=')}`),
  search('with a cursor for id 0', `?cursor=${Buffer.from('p1:0').toString('base64url')}`),
  search('with an empty cursor', '?cursor='),
  search('with a 65-character cursor', `?cursor=${'A'.repeat(65)}`),
  search('with an unknown parameter', '?sort=price'),
];

/** A search answer as the contract fixes it: the set of products, and whether a next page exists. */
function asSet(body: unknown): unknown {
  const page = body as Page;
  return {
    items: [...page.items].sort((a, b) => a.id - b.id),
    nextCursor: page.nextCursor === null ? null : '<cursor>',
  };
}

interface Side {
  name: string;
  server: Started;
  call: Call;
}

async function send(side: Side, step: Step): Promise<JsonResponse> {
  const options: CallOptions = {};
  if (step.body !== undefined) options.body = step.body;
  if (step.rawBody !== undefined) options.rawBody = step.rawBody;
  if (step.headers) options.headers = step.headers;
  return side.call(step.method, step.path, options);
}

let monolith: Side;
let service: Side;
/** Every status (and error code) the monolith answered with, for the coverage check at the end. */
const answers = new Set<string>();

beforeAll(async () => {
  const [m, s] = await Promise.all([startMonolith(), startProductsService()]);
  monolith = { name: 'monolith', server: m, call: client(m.url) };
  service = { name: 'products service', server: s, call: client(s.url) };
});
afterAll(async () => {
  await Promise.all([monolith?.server.close(), service?.server.close()]);
});

describe('the products service answers like the monolith', () => {
  // One test per step, in order: each depends on the state the earlier ones left on both sides.
  it.each(STEPS.map((step, i) => [`${String(i + 1).padStart(2, '0')} ${step.name}`, step] as const))(
    '%s',
    async (_label, step) => {
      if (step.follow) {
        const [fromMonolith, fromService] = await Promise.all([
          allPages(monolith.call, step.path),
          allPages(service.call, step.path),
        ]);
        answers.add('200');
        const sizes = (pages: typeof fromMonolith) => pages.map((p) => p.body.items.length);
        const ids = (pages: typeof fromMonolith) => pages.flatMap((p) => p.body.items.map((i) => i.id));
        expect(sizes(fromService)).toEqual(sizes(fromMonolith));
        expect(new Set(ids(fromService)).size).toBe(ids(fromService).length); // no product twice
        expect([...ids(fromService)].sort((a, b) => a - b)).toEqual([...ids(fromMonolith)].sort((a, b) => a - b));
        if (!step.ranked) expect(fromService.map((p) => p.body)).toEqual(fromMonolith.map((p) => p.body));
        return;
      }
      const [fromMonolith, fromService] = await Promise.all([send(monolith, step), send(service, step)]);
      const code = (fromMonolith.body as { error?: { code?: string } } | null)?.error?.code;
      answers.add(code ? `${fromMonolith.status} ${code}` : String(fromMonolith.status));
      const comparable = (res: JsonResponse) => ({
        status: res.status,
        contentType: res.headers.get('content-type'),
        body: step.ranked && res.status === 200 ? asSet(res.body) : res.body,
      });
      expect(comparable(fromService)).toEqual(comparable(fromMonolith));
    },
  );

  it('sent requests that drew every answer the products routes give', () => {
    // A guard on the step list: the contract above is only as wide as what it sends.
    expect([...answers].sort()).toEqual(
      [
        '200',
        '201',
        '400 INVALID_JSON',
        '400 PRODUCTS_INVALID_CURSOR',
        '400 VALIDATION_FAILED',
        '404 NOT_FOUND',
        '404 PRODUCTS_NOT_FOUND',
        '409 PRODUCTS_SKU_TAKEN',
        '415 UNSUPPORTED_MEDIA_TYPE',
      ].sort(),
    );
  });
});
