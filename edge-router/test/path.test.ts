import { type ContextFlags, type FlagSnapshot, MONOLITH_ONLY } from '@strangler/flags';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../src/decide.ts';
import { normalisePath } from '../src/path.ts';
import { compileRoutes, ROUTES } from '../src/routes.ts';
import { hostileRequest } from './path-grammar.ts';

describe('normalisePath', () => {
  it.each([
    ['/api/users/1', '/api/users/1'],
    ['/api/users/%31', '/api/users/1'],
    ['/api/products/search?q=a%20b&limit=2', '/api/products/search'],
    ['/api/users/Zo%C3%AB', '/api/users/Zo%C3%AB'],
    ['/', '/'],
    ['/api/users/1/', '/api/users/1/'],
  ])('accepts %s as %s', (raw, path) => {
    const result = normalisePath(raw);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.path).toBe(path);
  });

  it('keeps the query string as sent', () => {
    const result = normalisePath('/api/products/search?q=%25&cursor=abc');
    expect(result.ok && result.query).toBe('?q=%25&cursor=abc');
  });

  it.each([
    ['an encoded slash', '/api/users%2F1'],
    ['an encoded slash, lower case', '/api/users%2f1'],
    ['an encoded backslash', '/api/users%5C1'],
    ['a backslash', '/api\\users/1'],
    ['a dot segment', '/api/./users/1'],
    ['a parent segment', '/api/products/../users/1'],
    ['an encoded dot segment', '/api/products/%2e%2e/users/1'],
    ['a mixed-encoding dot segment', '/api/products/.%2E/users/1'],
    ['a double slash', '/api//users/1'],
    ['a leading double slash', '//api/users/1'],
    ['an encoded NUL', '/api/users/1%00'],
    ['an encoded newline', '/api/users/1%0a'],
    ['an encoded DEL', '/api/users/1%7F'],
    ['a raw control byte', '/api/users/1\u0001'],
    ['overlong UTF-8 for a dot', '/api/products/%C0%AE%C0%AE/users/1'],
    ['overlong UTF-8 for a slash', '/api/users%C0%AF1'],
    ['a lone continuation byte', '/api/users/%80'],
    ['truncated percent-encoding', '/api/users/%E0%A4%A'],
    ['a relative path', 'api/users/1'],
  ])('refuses %s', (_label, raw) => {
    expect(normalisePath(raw).ok).toBe(false);
  });

  it('is idempotent: a normalised path normalises to itself (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }), { minLength: 1, maxLength: 6 }), (parts) => {
        const raw = `/${parts.map((p) => encodeURIComponent(p)).join('/')}`;
        const first = normalisePath(raw);
        if (!first.ok) return;
        const second = normalisePath(first.path);
        expect(second.ok).toBe(true);
        if (second.ok) {
          expect(second.path).toBe(first.path);
          expect(second.segments).toEqual(first.segments);
        }
      }),
    );
  });

  it('never lets an accepted path contain a segment that is a dot, empty inside, or has a slash (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        '.',
        '..',
        '%2e',
        '%2E%2e',
        '%2f',
        '%2F',
        '%5c',
        '',
        'api',
        'users',
        '1',
        '%00',
        '%C0%AE',
        'a%20b',
      ),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), (parts) => {
        const result = normalisePath(`/${parts.join('/')}`);
        if (!result.ok) return;
        result.segments.forEach((segment, i) => {
          expect(segment).not.toBe('.');
          expect(segment).not.toBe('..');
          expect(segment.includes('/')).toBe(false);
          if (i < result.segments.length - 1) expect(segment).not.toBe('');
        });
        for (const c of result.path) expect(c.charCodeAt(0)).toBeGreaterThan(0x1f);
      }),
    );
  });
});

describe('normalisation and decision together', () => {
  const table = compileRoutes();
  const services = new Set(['users', 'products']);
  const contextFlags: fc.Arbitrary<ContextFlags> = fc.record({
    shadowPercent: fc.constantFrom(0, 50, 100),
    readPercent: fc.constantFrom(0, 10, 100),
    writeOwner: fc.constantFrom('monolith' as const, 'service' as const),
  });
  const flags: fc.Arbitrary<FlagSnapshot> = fc.record({
    killSwitch: fc.boolean(),
    contexts: fc
      .record({ users: contextFlags, products: contextFlags })
      .map((c) => ({ ...MONOLITH_ONLY.contexts, ...c })),
  });

  /**
   * The rule a canonical path names, read off its text alone, independently of
   * the compiled table: static segments match literally (route words are never
   * percent-encoded), a parameter any non-empty segment, the most static wins.
   */
  function ruleOf(method: string, path: string): string | null {
    const wanted = method === 'HEAD' ? 'GET' : method;
    const params = (pattern: string) => pattern.split(':').length;
    const [best] = ROUTES.filter(
      (r) => r.method === wanted && new RegExp(`^${r.path.replace(/:\w+/g, '[^/]+')}$`).test(path),
    ).sort((a, b) => params(a.path) - params(b.path));
    return best ? `${best.method} ${best.path}` : null;
  }

  it('refuses a path, or forwards the canonical path it decided on, which decides the same again (property)', () => {
    fc.assert(
      fc.property(
        hostileRequest,
        flags,
        fc.string({ maxLength: 12 }),
        fc.integer({ min: 0, max: 99 }),
        ([method, raw], snapshot, stickyId, shadowSample) => {
          const check = normalisePath(raw);
          if (!check.ok) return;
          const forwarded = `${check.path}${check.query}`;
          // The forwarded path is canonical: normalising it again changes nothing.
          const again = normalisePath(forwarded);
          expect(again.ok && `${again.path}${again.query}`).toBe(forwarded);
          if (!again.ok) return;
          expect(again.segments).toEqual(check.segments);
          // The decision was made on the forwarded path: the same rule, the same decision.
          const match = table.match(method, check.segments);
          expect(match?.key ?? null).toBe(ruleOf(method, check.path));
          const input = { method, flags: snapshot, services, stickyId, shadowSample };
          expect(decide({ ...input, match: table.match(method, again.segments) })).toEqual(decide({ ...input, match }));
          // Nothing that could be read as another path survives: no dot or empty segment, no slash inside one.
          for (const [i, segment] of check.segments.entries()) {
            expect(['.', '..']).not.toContain(segment);
            expect(segment.includes('/') || segment.includes('\\')).toBe(false);
            if (i < check.segments.length - 1) expect(segment).not.toBe('');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
