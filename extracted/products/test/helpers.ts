import type { Env } from '@strangler/foundation';
import { type Call, type JsonResponse, type StartedApp, startOnFreshDatabase } from '@strangler/foundation/testing';
import { buildApp as buildMonolith } from '@strangler/monolith';
import { testConfig as monolithTestConfig } from '@strangler/monolith/config';
import { buildApp } from '../src/app.ts';
import { DEVELOPMENT_INTERNAL_API_TOKEN, testConfig } from '../src/config.ts';

export type Started = StartedApp;

/** The products service on a fresh database cloned from the migrated `products` template, on a free port. */
export function startProductsService(env: Env = {}): Promise<Started> {
  return startOnFreshDatabase('products', (url) => buildApp(testConfig({ ...env, DATABASE_URL: url })));
}

/** ShopCo on a fresh monolith database, on a free port: the reference the service must answer like. */
export function startMonolith(env: Env = {}): Promise<Started> {
  return startOnFreshDatabase('monolith', (url) => buildMonolith(monolithTestConfig({ ...env, DATABASE_URL: url })));
}

/** The token the tests' services accept on /internal (the development default). */
export const INTERNAL_TOKEN = DEVELOPMENT_INTERNAL_API_TOKEN;

export interface NewProduct {
  sku: string;
  name: string;
  description?: string;
  priceCents: number;
  stock: number;
}

/** A product as the API answers it. */
export interface ProductBody {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  priceCents: number;
  stock: number;
}

let counter = 0;

/** Creates a product through the public API; the SKU is unique unless given. */
export async function createProduct(call: Call, overrides: Partial<NewProduct> = {}): Promise<ProductBody> {
  counter += 1;
  const res = await call<ProductBody>('POST', '/api/products', {
    body: {
      sku: `SKU-${counter}-${process.pid}`,
      name: `Product ${counter}`,
      priceCents: 1000,
      stock: 10,
      ...overrides,
    },
  });
  if (res.status !== 201) throw new Error(`create product failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

export interface Page {
  items: ProductBody[];
  nextCursor: string | null;
}

/** Follows nextCursor from the first page (or from `startCursor`) to the last; every page, in order. */
export async function allPages(call: Call, path: string, startCursor?: string): Promise<JsonResponse<Page>[]> {
  const pages: JsonResponse<Page>[] = [];
  let cursor: string | null = startCursor ?? null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: JsonResponse<Page> = await call<Page>(
      'GET',
      cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path,
    );
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    pages.push(res);
    cursor = res.body.nextCursor;
  } while (cursor !== null && pages.length < 100);
  return pages;
}

export {
  type Call,
  type CallOptions,
  client,
  errorCode,
  type JsonResponse,
} from '@strangler/foundation/testing';
