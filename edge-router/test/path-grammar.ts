import fc from 'fast-check';
import { ROUTES } from '../src/routes.ts';

/**
 * Requests built from a grammar of route words and the encodings that
 * parsers disagree on: encoded and double-encoded slashes and dots, overlong
 * UTF-8, NUL and other control bytes, mixed-case percent escapes, look-alike
 * letters, trailing dots, stray `%`. Half are free-form, half are real routes
 * of the table with some segments encoded or swapped for a hostile one, so
 * that routed requests are as common as refused and unrouted ones. Printable
 * ASCII only: every target passes the HTTP parser and reaches the router's
 * own checks. Shared by the pure property (path.test.ts) and the one over
 * sockets (hostile.test.ts).
 */

export const hostileSegment = fc.oneof(
  fc.constantFrom('api', 'users', 'products', 'orders', 'payments', 'search', 'inventory', 'status', 'refund'),
  fc.constantFrom('register', 'login', 'checkout', '1', '42', '0', '2147483648'),
  fc.constantFrom('%2F', '%2f', '%252F', '%5C', '%5c', '%C0%AF', '%E0%80%AF', '%C0%AE', '%C0%AE%C0%AE'),
  fc.constantFrom('.', '..', '%2e', '%2E', '%2e%2e', '.%2E', '%252e%252e', '', '%00', '%0a', '%0D', '%7F'),
  fc.constantFrom('%75sers', 'u%73ers', 'U%53ERS', 'USERS', 'Users', 'users.', '1.', '%31', 'users%2e', '%2e1'),
  fc.constantFrom('%3B', ';x=1', '%3F', '%23', '%20', '%25', '%', '%zz', '%C3%A9', '%E2%80%AE', '%EF%BD%95sers'),
  fc.constantFrom('~', "'", '+', '%2B', 'a%2e%2e'),
);

const queryString = fc.constantFrom('', '?q=1', '?q=%2F..%2F', '?q=%00', '?q=%2e%2e/users', '?a=1&a=2');

const anyMethod = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE');

/** `word` with the letter at `at` percent-encoded, in upper- or lower-case hex. */
function encodeLetter(word: string, at: number, upper: boolean): string {
  const i = at % word.length;
  const hex = (word.codePointAt(i) ?? 0).toString(16);
  return `${word.slice(0, i)}%${upper ? hex.toUpperCase() : hex.toLowerCase()}${word.slice(i + 1)}`;
}

/** One segment of a route pattern, as written, percent-encoded, or replaced by a hostile one. */
function routeSegment(pattern: string): fc.Arbitrary<string> {
  const plain = pattern.startsWith(':') ? fc.constantFrom('1', '42', '%31', 'abc') : fc.constant(pattern);
  return fc.oneof(
    { weight: 12, arbitrary: plain },
    { weight: 1, arbitrary: hostileSegment },
    {
      weight: 1,
      arbitrary: fc
        .tuple(plain, fc.nat(), fc.boolean())
        .map(([word, at, upper]) => (word.length && !word.includes('%') ? encodeLetter(word, at, upper) : word)),
    },
  );
}

const freeForm = fc.tuple(anyMethod, fc.array(hostileSegment, { minLength: 1, maxLength: 6 }));

const routeShaped = fc.constantFrom(...ROUTES).chain((rule) =>
  fc.tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constant(rule.method as string) }, { weight: 1, arbitrary: anyMethod }),
    fc
      .tuple(
        fc.tuple(...rule.path.split('/').slice(1).map(routeSegment)),
        fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: hostileSegment }),
      )
      .map(([segments, extra]) => (extra === null ? segments : [...segments, extra])),
  ),
);

/** A method and a request target (`/seg/...?query`). */
export const hostileRequest: fc.Arbitrary<[method: string, target: string]> = fc
  .tuple(fc.oneof({ weight: 1, arbitrary: freeForm }, { weight: 2, arbitrary: routeShaped }), queryString)
  .map(([[method, segments], query]) => [method, `/${segments.join('/')}${query}`]);
