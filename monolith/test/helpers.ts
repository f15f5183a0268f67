import { freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp, type MonolithDeps } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

export interface ShopCo {
  app: FastifyInstance;
  db: TestDatabase;
  /** Base URL of the listening server, for real HTTP. */
  url: string;
  close(): Promise<void>;
}

/** ShopCo on a fresh database cloned from the migrated template, listening on a free port. */
export async function startShopCo(deps: MonolithDeps = {}): Promise<ShopCo> {
  const db = await freshDatabase('monolith');
  let app: FastifyInstance;
  let url: string;
  try {
    app = await buildApp(testConfig({ DATABASE_URL: db.url }), deps);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await db.drop();
    throw err;
  }
  return {
    app,
    db,
    url,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small JSON client over real HTTP. */
export function client(baseUrl: string) {
  return async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
  };
}

export type Call = ReturnType<typeof client>;

let counter = 0;

/** Registers a user and logs them in; returns the user and a bearer token. */
export async function signUp(
  call: Call,
  overrides: Partial<{ email: string; password: string; name: string }> = {},
): Promise<{ id: number; email: string; token: string; password: string }> {
  counter += 1;
  const input = {
    email: `user${counter}.${process.pid}@example.com`,
    password: 'correct horse battery',
    name: `User ${counter}`,
    ...overrides,
  };
  const registered = await call<{ id: number; email: string }>('POST', '/api/users/register', { body: input });
  if (registered.status !== 201) throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
  const login = await call<{ token: string }>('POST', '/api/users/login', {
    body: { email: input.email, password: input.password },
  });
  return { id: registered.body.id, email: input.email, token: login.body.token, password: input.password };
}

export async function createProduct(
  call: Call,
  overrides: Partial<{ sku: string; name: string; description: string; priceCents: number; stock: number }> = {},
): Promise<{ id: number; priceCents: number; stock: number }> {
  counter += 1;
  const res = await call<{ id: number; priceCents: number; stock: number }>('POST', '/api/products', {
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

export function errorCode(res: JsonResponse): string | undefined {
  return (res.body as { error?: { code?: string } } | null)?.error?.code;
}
