import { describe, expect, it } from 'vitest';
import {
  BODY_CASES,
  deeplyNested,
  errorOf,
  FRAMING_CASES,
  HOSTILE_TEXT,
  manyHeadersRequest,
  oversizedBody,
  oversizedHeaderRequest,
  PATH_TRICKS,
  type RawResponse,
  rawRequest,
  sendRaw,
} from './hostile.ts';
import { client, errorCode, signUp } from './http-client.ts';

/**
 * The hostile-input tests every database-backed service shares (ShopCo, the
 * users service, the products service): the same attacks, the same answers,
 * because all of them stand on the same foundation HTTP layer. Each
 * service's own test file adds what only it has (its write routes, for the
 * hostile text).
 */

export interface HostileTarget {
  /** The base URL of the running process; read when a test runs, after beforeAll. */
  url(): string;
  /** A POST route of the process that takes a JSON body. */
  jsonRoute: string;
  /** A GET the process answers with `status` while healthy: proof it still serves after an attack. */
  alive: { path: string; status: number };
  /** The process's body limit in bytes. */
  bodyLimit: number;
  /** Routes that end in an integer id, written with `:id` (e.g. `/api/users/:id`), for hostile ids. */
  idRoutes: string[];
}

/** The codes of the shared HTTP layer a refused path may get from a service. */
const PATH_REFUSALS = new Set(['NOT_FOUND', 'INVALID_URL', 'VALIDATION_FAILED']);

export function expectError(res: RawResponse | undefined, status: number, code: string): void {
  expect(res, 'a response').toBeDefined();
  expect({ status: res?.status, code: res && errorOf(res)?.code }).toEqual({ status, code });
  expect(res?.headers['x-request-id']).toBeTruthy();
}

export function describeHostileHttp(name: string, target: HostileTarget): void {
  const host = () => new URL(target.url()).host;

  async function expectAlive(): Promise<void> {
    const res = await fetch(`${target.url()}${target.alive.path}`);
    await res.arrayBuffer();
    expect(res.status).toBe(target.alive.status);
  }

  function postRaw(contentType: string | null, body: string | Buffer, extra: string[] = []): Buffer {
    const bytes = Buffer.from(body);
    const head = rawRequest([
      `POST ${target.jsonRoute} HTTP/1.1`,
      `Host: ${host()}`,
      ...(contentType === null ? [] : [`Content-Type: ${contentType}`]),
      `Content-Length: ${bytes.length}`,
      ...extra,
      'Connection: close',
    ]);
    return Buffer.concat([Buffer.from(head), bytes]);
  }

  describe(`${name}: hostile input`, () => {
    describe('request smuggling and malformed framing', () => {
      it.each(FRAMING_CASES.map((c) => [c.name, c] as const))(
        'refuses %s with one clear answer and closes the connection',
        async (_name, c) => {
          const exchange = await sendRaw(
            target.url(),
            c.request({ host: host(), path: target.jsonRoute, body: '{}', smuggledPath: target.alive.path }),
          );
          // Exactly one answer: the request hidden in the body is never served.
          expect(exchange.responses).toHaveLength(1);
          expect(exchange.rest).toBe('');
          const [res] = exchange.responses;
          expectError(res, c.status, c.code);
          expect(res?.headers.connection).toBe('close');
          expect(errorOf(res as RawResponse)?.message).toMatch(/^The request is not well-formed HTTP\/1\.1 \(.+\)/);
          await expectAlive();
        },
      );

      // Regression: the 400 was written at once, and read by the client as the answer to the earlier request.
      it('lets a request pipelined before a malformed one keep its own answer, then closes', async () => {
        const first = rawRequest([`GET ${target.alive.path} HTTP/1.1`, `Host: ${host()}`]);
        const [malformed] = FRAMING_CASES;
        const second = malformed?.request({ host: host(), path: target.jsonRoute, body: '{}', smuggledPath: '/' });
        const exchange = await sendRaw(target.url(), `${first}${second}`);
        expect(exchange.responses.map((r) => r.status)).toEqual([target.alive.status]);
        expect(exchange.rest).toBe('');
        await expectAlive();
      });

      it('serves a request with 500 tiny headers, and refuses 3,000 with 431 HEADERS_TOO_LARGE', async () => {
        const few = await sendRaw(target.url(), manyHeadersRequest(host(), target.alive.path, 500));
        expect(few.responses.map((r) => r.status)).toEqual([target.alive.status]);
        const many = await sendRaw(target.url(), manyHeadersRequest(host(), target.alive.path, 3000));
        expect(many.responses).toHaveLength(1);
        expectError(many.responses[0], 431, 'HEADERS_TOO_LARGE');
        await expectAlive();
      });

      it('refuses headers over the size limit with 431 HEADERS_TOO_LARGE', async () => {
        const { responses } = await sendRaw(target.url(), oversizedHeaderRequest(host(), target.alive.path));
        expect(responses).toHaveLength(1);
        expectError(responses[0], 431, 'HEADERS_TOO_LARGE');
        await expectAlive();
      });
    });

    describe('bodies', () => {
      it.each(BODY_CASES.map((c) => [c.name, c] as const))('refuses %s', async (_name, c) => {
        const { responses } = await sendRaw(target.url(), postRaw(c.contentType, c.body));
        expect(responses).toHaveLength(1);
        expectError(responses[0], c.status, c.code);
        await expectAlive();
      });

      it('refuses a body over the limit with 413 PAYLOAD_TOO_LARGE, by Content-Length', async () => {
        const { responses } = await sendRaw(target.url(), postRaw('application/json', oversizedBody(target.bodyLimit)));
        expectError(responses[0], 413, 'PAYLOAD_TOO_LARGE');
        await expectAlive();
      });

      it('refuses a body over the limit with 413 PAYLOAD_TOO_LARGE, sent in chunks', async () => {
        const body = oversizedBody(target.bodyLimit);
        const chunks = (body.match(/[\s\S]{1,65536}/g) ?? []).map(
          (part) => `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`,
        );
        const request = rawRequest(
          [
            `POST ${target.jsonRoute} HTTP/1.1`,
            `Host: ${host()}`,
            'Content-Type: application/json',
            'Transfer-Encoding: chunked',
            'Connection: close',
          ],
          `${chunks.join('')}0\r\n\r\n`,
        );
        const { responses } = await sendRaw(target.url(), request);
        expectError(responses[0], 413, 'PAYLOAD_TOO_LARGE');
        await expectAlive();
      });

      it('refuses 100,000 nested arrays inside a field with 400 VALIDATION_FAILED', async () => {
        const deep = deeplyNested();
        for (const field of ['name', 'sku', 'email', 'items', 'x']) {
          const { responses } = await sendRaw(target.url(), postRaw('application/json', `{"${field}":${deep}}`));
          expectError(responses[0], 400, 'VALIDATION_FAILED');
        }
        await expectAlive();
      });
    });

    describe('path tricks', () => {
      it.each(PATH_TRICKS.filter((t) => t.path.startsWith('/')).map((t) => [t.name, t] as const))(
        'refuses %s with a 4xx of the HTTP layer',
        async (_name, trick) => {
          const { responses } = await sendRaw(
            target.url(),
            rawRequest([`GET ${trick.path} HTTP/1.1`, `Host: ${host()}`, 'Connection: close']),
          );
          expect(responses).toHaveLength(1);
          const res = responses[0] as RawResponse;
          expect([400, 404]).toContain(res.status);
          expect(PATH_REFUSALS).toContain(errorOf(res)?.code);
          await expectAlive();
        },
      );

      it.each(HOSTILE_TEXT.map((t) => [t.name, t] as const))(
        'refuses %s as an id in the path with a 400',
        async (_name, { text }) => {
          // A lone surrogate has no UTF-8 form: what reaches a server is its three encoded bytes.
          const id = text.isWellFormed() ? encodeURIComponent(text) : '%ED%A0%80';
          for (const route of target.idRoutes) {
            const path = route.replace(':id', id);
            const { responses } = await sendRaw(
              target.url(),
              rawRequest([`GET ${path} HTTP/1.1`, `Host: ${host()}`, 'Connection: close']),
            );
            expect(responses[0]?.status, path).toBe(400);
            expect(['VALIDATION_FAILED', 'INVALID_URL']).toContain(errorOf(responses[0] as RawResponse)?.code);
          }
          await expectAlive();
        },
      );

      it('serves an absolute URL as a request target by its path, ignoring the host in it (RFC 9112 §3.2.2)', async () => {
        const { responses } = await sendRaw(
          target.url(),
          rawRequest([`GET http://evil.test${target.alive.path} HTTP/1.1`, `Host: ${host()}`, 'Connection: close']),
        );
        expect(responses[0]?.status).toBe(target.alive.status);
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Hostile text through the real write routes

// Type aliases, not interfaces: errorCode takes a response of any JSON record.
type User = {
  id: number;
  email: string;
  name: string;
};

type Product = {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  priceCents: number;
  stock: number;
};

let serial = 0;
const unique = () => `${process.pid}-${Date.now().toString(36)}-${++serial}`;

/**
 * Users routes (ShopCo, the users service): every text of HOSTILE_TEXT as a
 * name at sign-up and at a profile update, and inside a password; SQL-looking
 * and unicode emails. Each is stored and given back unchanged, or refused
 * with 400 VALIDATION_FAILED: never a 500.
 */
export function describeHostileUserText(name: string, url: () => string): void {
  describe(`${name}: SQL-looking and unicode text in every users field`, () => {
    it.each(HOSTILE_TEXT.map((t) => [t.name, t] as const))(
      'keeps %s byte for byte in a name and a password, or refuses it',
      async (_name, { text, storable }) => {
        const call = client(url());
        const email = `hostile-${unique()}@example.com`;
        const password = `pass ${text} word`;
        const registered = await call<User>('POST', '/api/users/register', { body: { email, password, name: text } });
        if (!storable) {
          expect({ status: registered.status, code: errorCode(registered) }).toEqual({
            status: 400,
            code: 'VALIDATION_FAILED',
          });
          return;
        }
        expect(registered.status).toBe(201);
        expect(registered.body.name).toBe(text);
        const login = await call<{ token: string }>('POST', '/api/users/login', { body: { email, password } });
        expect(login.status).toBe(200);
        const read = await call<User>('GET', `/api/users/${registered.body.id}`);
        expect(read.body.name).toBe(text);
        const renamed = await call<User>('PUT', `/api/users/${registered.body.id}`, {
          token: login.body.token,
          body: { name: `again ${text}` },
        });
        expect(renamed.status).toBe(200);
        expect(renamed.body.name).toBe(`again ${text}`);
        expect((await call<User>('GET', `/api/users/${registered.body.id}`)).body.name).toBe(`again ${text}`);
      },
    );

    it('refuses a NUL or a lone surrogate in a profile update, and changes nothing', async () => {
      const call = client(url());
      const user = await signUp(call, { email: `hostile-${unique()}@example.com`, name: 'Plain Name' });
      for (const { text } of HOSTILE_TEXT.filter((t) => !t.storable)) {
        const res = await call('PUT', `/api/users/${user.id}`, { token: user.token, body: { name: text } });
        expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      }
      expect((await call<User>('GET', `/api/users/${user.id}`)).body.name).toBe('Plain Name');
    });

    it.each([
      "o'brien+{n}@example.com",
      '{n}@xn--caf-dma.example.com',
      'zoë.{n}@example.com',
      '{n}@例え.jp',
      "x'); DROP TABLE users;--{n}@example.com",
      '"{n} OR 1=1"@example.com',
      '{n}%_@example.com',
    ])('stores the email %s as sent, or refuses it with 400', async (pattern) => {
      const call = client(url());
      const email = pattern.replace('{n}', `h${serial++}x${process.pid}`);
      const res = await call<User>('POST', '/api/users/register', {
        body: { email, password: 'password123', name: 'Email Test' },
      });
      if (res.status === 201) {
        expect(res.body.email).toBe(email);
        expect((await call('POST', '/api/users/login', { body: { email, password: 'password123' } })).status).toBe(200);
      } else {
        expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      }
    });

    it('refuses a profile update under a hostile or forged Authorization header with 401, and changes nothing', async () => {
      const call = client(url());
      const user = await signUp(call, { email: `hostile-${unique()}@example.com`, name: 'Kept Name' });
      const forged = [
        "Bearer ' OR 1=1 --",
        'Bearer',
        'Basic Zm9vOmJhcg==',
        // alg "none", subject 1, ShopCo's issuer, no signature.
        'Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiaXNzIjoic2hvcGNvIn0.',
        `Bearer ${user.token.slice(0, -2)}xx`,
        `Bearer ${'a'.repeat(10_000)}`,
        `Bearer ${user.token}, Bearer ${user.token}`,
      ];
      for (const authorization of forged) {
        const res = await call('PUT', `/api/users/${user.id}`, {
          headers: { authorization },
          body: { name: 'Changed' },
        });
        expect(res.status, authorization.slice(0, 40)).toBe(401);
        expect(['AUTH_TOKEN_MISSING', 'AUTH_TOKEN_INVALID']).toContain(errorCode(res));
      }
      expect((await call<User>('GET', `/api/users/${user.id}`)).body.name).toBe('Kept Name');
    });

    it.each(["' OR '1'='1", "admin'--", '%', '_', '*', 'a@b.c\u0301'])(
      'answers a login with the email %j as any failed login',
      async (email) => {
        const res = await client(url())('POST', '/api/users/login', { body: { email, password: "' OR '1'='1" } });
        expect({ status: res.status, code: errorCode(res) }).toEqual({
          status: 401,
          code: 'USERS_INVALID_CREDENTIALS',
        });
      },
    );
  });
}

/**
 * Products routes (ShopCo, the products service): every text of HOSTILE_TEXT
 * as a name, a description, a search and a SKU; hostile numbers as price and
 * stock, at create and at the inventory update.
 */
export function describeHostileProductText(name: string, url: () => string): void {
  describe(`${name}: SQL-looking and unicode text in every products field`, () => {
    it.each(HOSTILE_TEXT.map((t) => [t.name, t] as const))(
      'keeps %s byte for byte in a name and a description and finds it by search, or refuses it',
      async (_name, { text, storable }) => {
        const call = client(url());
        const created = await call<Product>('POST', '/api/products', {
          body: { sku: `H-${unique()}`, name: text, description: `about ${text}`, priceCents: 100, stock: 1 },
        });
        if (!storable) {
          expect({ status: created.status, code: errorCode(created) }).toEqual({
            status: 400,
            code: 'VALIDATION_FAILED',
          });
          return;
        }
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({ name: text, description: `about ${text}` });
        const read = await call<Product>('GET', `/api/products/${created.body.id}`);
        expect(read.body).toMatchObject({ name: text, description: `about ${text}` });
        const search = await call<{ items: Product[] }>(
          'GET',
          `/api/products/search?limit=100&q=${encodeURIComponent(text)}`,
        );
        expect(search.status).toBe(200);
        expect(search.body.items.map((p) => p.id)).toContain(created.body.id);
        for (const item of search.body.items) {
          expect(`${item.name}\n${item.description}`.toLowerCase()).toContain(text.toLowerCase());
        }
      },
    );

    it.each(HOSTILE_TEXT.map((t) => [t.name, t] as const))('refuses %s as a SKU', async (_name, { text }) => {
      const res = await client(url())('POST', '/api/products', {
        body: { sku: text, name: 'SKU test', priceCents: 1, stock: 1 },
      });
      expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    });

    it.each([
      ['a number as text', '"5"'],
      ['a fraction', '1.5'],
      ['a negative number', '-1'],
      ['a number beyond a double', '1e309'],
      ['a number beyond 2^53', '9007199254740993'],
      ['an object', '{"$gt":0}'],
      ['SQL', '"1; DROP TABLE products"'],
    ])('refuses %s as a price, and as a stock at create and at the inventory update', async (_name, value) => {
      const call = client(url());
      const product = await call<Product>('POST', '/api/products', {
        body: { sku: `N-${unique()}`, name: 'Number test', priceCents: 100, stock: 3 },
      });
      expect(product.status).toBe(201);
      const bodies = [
        ['POST', '/api/products', `{"sku":"N-${unique()}","name":"n","priceCents":${value},"stock":1}`],
        ['POST', '/api/products', `{"sku":"N-${unique()}","name":"n","priceCents":1,"stock":${value}}`],
        ['PUT', `/api/products/${product.body.id}/inventory`, `{"stock":${value}}`],
      ] as const;
      for (const [method, path, rawBody] of bodies) {
        const res = await call(method, path, { rawBody, headers: { 'content-type': 'application/json' } });
        expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      }
      expect((await call<Product>('GET', `/api/products/${product.body.id}`)).body.stock).toBe(3);
    });

    // As sent on the wire: %00 is NUL, %ED%A0%80 an encoded lone surrogate, %C0%AE overlong, %FF not UTF-8.
    it.each([
      "'%20OR%201=1%20--",
      '%25',
      '_',
      '%5C',
      '%2525',
      'a'.repeat(101),
      '%00',
      '%ED%A0%80',
      '%C0%AE',
      '%FF',
      '%E0%A4%A',
    ])('answers the search q=%s with a page or a 400, never a 500', async (q) => {
      const res = await client(url())<{ items: Product[] }>('GET', `/api/products/search?q=${q}`);
      if (res.status === 200) expect(Array.isArray(res.body.items)).toBe(true);
      else expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    });

    it.each([
      '__proto__=x',
      '__proto__[admin]=1',
      'constructor=x',
      'toString=1',
      'q=a&q=b',
      'limit=1&limit=2',
      'limit=-0',
      'limit=%EF%BC%91',
      'limit=',
      'limit=99999999999999999999',
      'q',
      '&&&',
      `${'a=1&'.repeat(1000)}q=x`,
    ])('answers the query string ?%s with a page or a 400, never a 500', async (query) => {
      const res = await client(url())<{ items: Product[] }>('GET', `/api/products/search?${query}`);
      if (res.status === 200) expect(Array.isArray(res.body.items)).toBe(true);
      else expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
    });

    // cDE6MA is "p1:0"; the next one "p1:1; DROP TABLE products".
    it.each(["' OR 1=1 --", 'cDE6MA', 'cDE6MTsgRFJPUCBUQUJMRSBwcm9kdWN0cw', '%00', '../../etc/passwd'])(
      'refuses the cursor %j with 400 PRODUCTS_INVALID_CURSOR or VALIDATION_FAILED',
      async (cursor) => {
        const res = await client(url())('GET', `/api/products/search?cursor=${encodeURIComponent(cursor)}`);
        expect(res.status).toBe(400);
        expect(['PRODUCTS_INVALID_CURSOR', 'VALIDATION_FAILED']).toContain(errorCode(res));
      },
    );
  });
}
