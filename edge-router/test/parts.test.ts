import { describe, expect, it } from 'vitest';
import { presentedBearer } from '../src/admin.ts';
import { CircuitBreaker } from '../src/breaker.ts';
import { compareAnswers } from '../src/diff.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from '../src/headers.ts';
import { createIdentityResolver, readCookie } from '../src/identity.ts';
import { NOISE_RULES } from '../src/noise.ts';

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one trial through after the cooldown, and closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.recordFailure();
    }
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    now = 1000;
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
  });

  it('re-opens when the trial fails', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 10, now: () => now });
    breaker.recordFailure();
    now = 10;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('does not open on failures that are not consecutive', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 10 });
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    expect(breaker.state).toBe('closed');
  });
});

describe('compareAnswers', () => {
  const user = { id: 1, email: 'a@example.com', name: 'A', createdAt: 't1', updatedAt: 't2' };
  it('matches equal answers whatever the key order', () => {
    expect(compareAnswers({ status: 200, body: user }, { status: 200, body: { ...user } }).match).toBe(true);
  });

  it('reports the differing JSON paths and the status', () => {
    const result = compareAnswers(
      { status: 200, body: { ...user, tags: ['a', 'b'] } },
      { status: 404, body: { ...user, name: 'B', tags: ['a'], extra: true } },
    );
    expect(result.paths).toEqual(['$status', 'extra', 'name', 'tags.1']);
  });

  it('ignores declared noise paths, with wildcards', () => {
    const a = { items: [{ id: 1, updatedAt: 'x' }], updatedAt: 'p' };
    const b = { items: [{ id: 1, updatedAt: 'y' }], updatedAt: 'q' };
    expect(
      compareAnswers({ status: 200, body: a }, { status: 200, body: b }, { ignore: ['updatedAt', 'items.*.updatedAt'] })
        .match,
    ).toBe(true);
    expect(compareAnswers({ status: 200, body: a }, { status: 200, body: b }, { ignore: ['updatedAt'] }).paths).toEqual(
      ['items.0.updatedAt'],
    );
  });

  it('compares declared unordered arrays as multisets', () => {
    const a = { items: [{ id: 1 }, { id: 2 }] };
    const b = { items: [{ id: 2 }, { id: 1 }] };
    expect(compareAnswers({ status: 200, body: a }, { status: 200, body: b }, { unordered: ['items'] }).match).toBe(
      true,
    );
    expect(compareAnswers({ status: 200, body: a }, { status: 200, body: b }).match).toBe(false);
    const c = { items: [{ id: 1 }, { id: 1 }] };
    expect(compareAnswers({ status: 200, body: a }, { status: 200, body: c }, { unordered: ['items'] }).paths).toEqual([
      'items',
    ]);
  });

  describe('a ranked page (search: same matches, another order)', () => {
    const rule = { rankedPage: { items: 'items', next: 'nextCursor', key: 'id' } };
    const p = (id: number, stock = 5) => ({ id, name: `P${id}`, stock });
    const compare = (a: unknown, b: unknown) =>
      compareAnswers({ status: 200, body: a }, { status: 200, body: b }, rule);

    it('on the last page, the same items in another order match; cursors are opaque', () => {
      expect(
        compare({ items: [p(1), p(2), p(3)], nextCursor: null }, { items: [p(3), p(1), p(2)], nextCursor: null }),
      ).toEqual({ match: true, paths: [] });
      // A missing, extra or changed match on the last page is a mismatch.
      expect(compare({ items: [p(1), p(2)], nextCursor: null }, { items: [p(2)], nextCursor: null }).paths).toEqual([
        'items',
      ]);
      expect(
        compare({ items: [p(1), p(2)], nextCursor: null }, { items: [p(2), p(1, 4)], nextCursor: null }).paths,
      ).toEqual(['items']);
    });

    it('with more pages, other members may fill the page, but shared items must agree and the sizes too', () => {
      expect(
        compare({ items: [p(1), p(2)], nextCursor: 'cDE6Mg' }, { items: [p(7), p(2)], nextCursor: 'cjE6eA' }),
      ).toEqual({ match: true, paths: [] });
      expect(
        compare({ items: [p(1), p(2)], nextCursor: 'a' }, { items: [p(2, 9), p(7)], nextCursor: 'b' }).paths,
      ).toEqual(['items.2.stock']);
      expect(compare({ items: [p(1), p(2)], nextCursor: 'a' }, { items: [p(2)], nextCursor: 'b' }).paths).toEqual([
        'items.length',
      ]);
    });

    it('one side with a next page and the other without is a mismatch', () => {
      expect(compare({ items: [p(1)], nextCursor: 'a' }, { items: [p(1)], nextCursor: null }).paths).toEqual([
        'nextCursor',
      ]);
    });

    it('is declared for the search route only', () => {
      expect(Object.keys(NOISE_RULES)).toEqual(['GET /api/products/search']);
      expect(NOISE_RULES['GET /api/products/search']).toEqual(rule);
    });
  });
});

describe('headers', () => {
  it("strips hop-by-hop headers, those named in Connection and the router's own, and sets x-forwarded-*", () => {
    const out = upstreamRequestHeaders(
      {
        host: 'shop.example',
        connection: 'keep-alive, x-secret-hop',
        'keep-alive': 'timeout=5',
        'x-secret-hop': '1',
        'transfer-encoding': 'chunked',
        'proxy-authorization': 'Basic abc',
        upgrade: 'websocket',
        'x-forwarded-for': '203.0.113.9',
        'x-request-id': 'client-chosen',
        'x-strangler-shadow': '1',
        authorization: 'Bearer t',
        'content-type': 'application/json',
      },
      { requestId: 'rid-1', remoteAddress: '127.0.0.1', host: 'shop.example', protocol: 'http' },
    );
    expect(out).toEqual({
      authorization: 'Bearer t',
      'content-type': 'application/json',
      'x-forwarded-for': '203.0.113.9, 127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'shop.example',
      'x-request-id': 'rid-1',
    });
  });

  it('does not pass framing headers back to the client', () => {
    expect(
      clientResponseHeaders({
        'content-length': '10',
        'transfer-encoding': 'chunked',
        'content-type': 'application/json',
        connection: 'close',
      }),
    ).toEqual({ 'content-type': 'application/json' });
  });
});

describe('identity', () => {
  it('keys on the token user, else the session cookie, else a new session', async () => {
    const { createSigner } = await import('fast-jwt');
    const sign = createSigner({ key: 'k', iss: 'shopco' });
    const resolve = createIdentityResolver('k');
    expect(resolve(`Bearer ${sign({ sub: '42' })}`, undefined)).toEqual({ stickyId: '42', newSession: null });
    const sid = '0f8fad5b-d9cb-469f-a165-70867728950e';
    expect(resolve('Bearer forged.token.here', `a=1; strangler_sid=${sid}`)).toEqual({
      stickyId: `session:${sid}`,
      newSession: null,
    });
    const fresh = resolve(undefined, 'strangler_sid=not-a-uuid');
    expect(fresh.newSession).toMatch(/^[0-9a-f-]{36}$/);
    expect(readCookie('x=1; y = 2', 'y')).toBe('2');
  });
});

describe('presentedBearer', () => {
  it('takes the credential of a bearer header, the scheme in any case, and nothing else', () => {
    expect(presentedBearer('Bearer a-long-admin-token-123')).toBe('a-long-admin-token-123');
    expect(presentedBearer('bearer   a-long-admin-token-123 ')).toBe('a-long-admin-token-123');
    expect(presentedBearer('Basic YWRtaW46c2VjcmV0')).toBeNull();
    expect(presentedBearer('Bearer')).toBeNull();
    expect(presentedBearer('Bearer two words')).toBeNull();
    expect(presentedBearer(undefined)).toBeNull();
  });
});
