import { once } from 'node:events';
import { connect } from 'node:net';

/**
 * Hostile input, shared by the tests of the edge router and of every service
 * (ShopCo, the users service, the products service), so each process is
 * attacked with the same list: request smuggling, path tricks, oversized
 * parts, wrong content types, broken JSON, and text that looks like SQL or
 * stretches Unicode. Each test file states what its process must answer.
 *
 * Requests that an HTTP client would clean up (conflicting framing headers,
 * folded headers, raw bytes in the path) are written to the socket as bytes.
 */

// ---------------------------------------------------------------------------
// Raw HTTP over a socket

export interface RawResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Every complete response read from the connection, in order. */
  responses: RawResponse[];
  /** What arrived after the last complete response (an unfinished one). */
  rest: string;
}

/** The JSON error body of a response, or null when the body is not the error contract's shape. */
export function errorOf(res: RawResponse): { code: string; message: string } | null {
  try {
    const body = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    return typeof code === 'string' && typeof message === 'string' ? { code, message } : null;
  } catch {
    return null;
  }
}

function parseResponses(buffer: Buffer): RawExchange {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = buffer.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const [statusLine = '', ...lines] = buffer.subarray(at, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let cursor = headEnd + 4;
    let body: Buffer;
    if (status === 100 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = buffer.indexOf('\r\n', cursor);
        if (lineEnd === -1) break;
        const size = Number.parseInt(buffer.subarray(cursor, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size) || buffer.length < lineEnd + 2 + size + 2) break;
        parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        cursor = lineEnd + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (buffer.length < cursor + length) break;
      body = buffer.subarray(cursor, cursor + length);
      cursor += length;
    }
    responses.push({ status, headers, body: body.toString('utf8') });
    at = cursor;
  }
  return { responses, rest: buffer.subarray(at).toString('latin1') };
}

export interface SendRawOptions {
  /** Stop reading once this many responses are complete and the connection stays quiet (default 1). */
  expectResponses?: number;
  /** How long a quiet, still open connection is read after the expected responses (default 200 ms). */
  quietMs?: number;
  /** Upper bound on the whole exchange (default 10 s); whatever arrived by then is returned. */
  maxMs?: number;
}

/**
 * Writes `bytes` to a fresh connection to `baseUrl` exactly as given and
 * reads every response until the server closes the connection, or until the
 * expected responses are in and nothing more arrives for a moment. The
 * socket is not half-closed: a server may abandon a request whose client
 * has stopped sending.
 */
export async function sendRaw(
  baseUrl: string,
  bytes: string | Buffer,
  options: SendRawOptions = {},
): Promise<RawExchange> {
  const { expectResponses = 1, quietMs = 200, maxMs = 10_000 } = options;
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  return new Promise<RawExchange>((resolve) => {
    let quiet: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(quiet);
      clearTimeout(cap);
      socket.destroy();
      resolve(parseResponses(Buffer.concat(chunks)));
    };
    const cap = setTimeout(finish, maxMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(quiet);
      if (parseResponses(Buffer.concat(chunks)).responses.length >= expectResponses) {
        quiet = setTimeout(finish, quietMs);
      }
    });
    socket.on('close', finish);
    socket.write(bytes);
  });
}

/** A request written by hand: `head` is the request line and headers, without the blank line. */
export function rawRequest(head: string[], body = ''): string {
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

// ---------------------------------------------------------------------------
// Request smuggling and malformed framing

/** Where a framing case aims: a route that takes a JSON body, and a path a smuggled request would ask for. */
export interface FramingTarget {
  host: string;
  /** A POST route of the process under test. */
  path: string;
  /** A JSON body that route accepts or refuses; the point is the framing, not the body. */
  body: string;
  /** The path of the request hidden in the body, which must never be served. */
  smuggledPath: string;
}

export interface FramingCase {
  name: string;
  request(t: FramingTarget): string;
  /** What every process must answer: the parser refuses the request before any route runs. */
  status: number;
  code: string;
}

const len = (text: string) => Buffer.byteLength(text);

function smuggled(t: FramingTarget): string {
  return `GET ${t.smuggledPath} HTTP/1.1\r\nHost: ${t.host}\r\n\r\n`;
}

export const FRAMING_CASES: readonly FramingCase[] = [
  {
    name: 'Content-Length and Transfer-Encoding together (CL.TE)',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          `Content-Length: ${len(t.body) + 7}`,
          'Transfer-Encoding: chunked',
        ],
        `0\r\n\r\n${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Transfer-Encoding and Content-Length together (TE.CL)',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          'Transfer-Encoding: chunked',
          'Content-Length: 4',
        ],
        `${len(t.body).toString(16)}\r\n${t.body}\r\n0\r\n\r\n${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'two Content-Length headers that disagree',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          `Content-Length: ${len(t.body)}`,
          `Content-Length: ${len(t.body) + len(smuggled(t))}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'two equal Content-Length headers',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          `Content-Length: ${len(t.body)}`,
          `Content-Length: ${len(t.body)}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a Content-Length that is a list',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          `Content-Length: ${len(t.body)}, ${len(t.body)}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a Content-Length that is not a plain number',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          `Content-Length: +${len(t.body)}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a folded header line (obs-fold)',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          'X-Note: first',
          ' second',
          `Content-Length: ${len(t.body)}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Transfer-Encoding folded onto a second line',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          'Transfer-Encoding:',
          ' chunked',
          `Content-Length: ${len(t.body)}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'whitespace before the colon of Transfer-Encoding',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          'Transfer-Encoding : chunked',
          `Content-Length: ${len(t.body)}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a transfer coding other than chunked (xchunked)',
    request: (t) =>
      rawRequest(
        [`POST ${t.path} HTTP/1.1`, `Host: ${t.host}`, 'Content-Type: application/json', 'Transfer-Encoding: xchunked'],
        `${len(t.body).toString(16)}\r\n${t.body}\r\n0\r\n\r\n${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'chunked that is not the last transfer coding',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          'Transfer-Encoding: chunked, identity',
        ],
        `${len(t.body).toString(16)}\r\n${t.body}\r\n0\r\n\r\n${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'two Transfer-Encoding headers',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          'Transfer-Encoding: chunked',
          'Transfer-Encoding: chunked',
        ],
        `${len(t.body).toString(16)}\r\n${t.body}\r\n0\r\n\r\n${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a chunk size that is not hexadecimal',
    request: (t) =>
      rawRequest(
        [`POST ${t.path} HTTP/1.1`, `Host: ${t.host}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked'],
        `zz\r\n${t.body}\r\n0\r\n\r\n${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'lines ended by a bare LF',
    request: (t) =>
      `POST ${t.path} HTTP/1.1\nHost: ${t.host}\nContent-Type: application/json\nContent-Length: ${len(t.body)}\n\n${t.body}${smuggled(t)}`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a NUL byte in a header value',
    request: (t) =>
      rawRequest(
        [
          `POST ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          'X-Note: a\u0000b',
          `Content-Length: ${len(t.body)}`,
        ],
        `${t.body}${smuggled(t)}`,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a raw NUL byte in the path',
    request: (t) => rawRequest([`GET ${t.smuggledPath}\u0000 HTTP/1.1`, `Host: ${t.host}`]),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a lower-case method',
    request: (t) =>
      rawRequest(
        [
          `post ${t.path} HTTP/1.1`,
          `Host: ${t.host}`,
          'Content-Type: application/json',
          `Content-Length: ${len(t.body)}`,
        ],
        t.body,
      ),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a raw space in the path',
    request: (t) => rawRequest([`GET ${t.smuggledPath} x HTTP/1.1`, `Host: ${t.host}`]),
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
];

/**
 * `count` tiny headers (`a:1`). Node refuses about a thousand and more with
 * 431 even when their bytes are within the size limit; a few hundred are served.
 */
export function manyHeadersRequest(host: string, path: string, count: number): string {
  const headers = Array.from({ length: count }, () => 'a:1');
  return rawRequest([`GET ${path} HTTP/1.1`, `Host: ${host}`, ...headers, 'Connection: close']);
}

/** Request headers over the parser's limit (16 KiB): refused with 431 before any route runs. */
export function oversizedHeaderRequest(host: string, path: string): string {
  return rawRequest([`GET ${path} HTTP/1.1`, `Host: ${host}`, `X-Padding: ${'a'.repeat(20_000)}`, 'Connection: close']);
}

// ---------------------------------------------------------------------------
// Path tricks

/**
 * Paths that try to reach a route other than the one a plain reading gives,
 * aimed at the users route `GET /api/users/:id` from elsewhere, or at
 * another route from under `/api/users`. `canonical` is the path the router
 * forwards when it accepts the trick (the one its decision is made on);
 * `null` means the router refuses it with 400: ROUTER_AMBIGUOUS_PATH, or
 * INVALID_URL where the percent-encoding is not UTF-8 and the HTTP layer
 * refuses it first.
 */
export interface PathTrick {
  name: string;
  path: string;
  canonical: string | null;
}

export const PATH_TRICKS: readonly PathTrick[] = [
  { name: 'an encoded slash', path: '/api/products%2F..%2Fusers/1', canonical: null },
  { name: 'an encoded slash in lower case', path: '/api/users%2f1', canonical: null },
  { name: 'an encoded backslash', path: '/api/products/..%5Cusers/1', canonical: null },
  { name: 'a double-encoded slash', path: '/api/users%252F1', canonical: '/api/users%252F1' },
  { name: 'a dot-dot segment', path: '/api/products/../users/1', canonical: null },
  { name: 'a dot segment', path: '/api/./users/1', canonical: null },
  { name: 'an encoded dot-dot segment', path: '/api/products/%2e%2e/users/1', canonical: null },
  { name: 'an upper-case encoded dot-dot segment', path: '/api/products/%2E%2E/users/1', canonical: null },
  { name: 'a half-encoded dot-dot segment', path: '/api/products/.%2e/users/1', canonical: null },
  {
    name: 'a double-encoded dot-dot segment',
    path: '/api/products/%252e%252e/users/1',
    canonical: '/api/products/%252e%252e/users/1',
  },
  { name: 'an overlong UTF-8 dot-dot', path: '/api/products/%C0%AE%C0%AE/users/1', canonical: null },
  { name: 'an overlong UTF-8 slash', path: '/api/users%C0%AF1', canonical: null },
  { name: 'a three-byte overlong UTF-8 slash', path: '/api/users%E0%80%AF1', canonical: null },
  { name: 'an encoded NUL', path: '/api/users/1%00', canonical: null },
  { name: 'an encoded NUL before a suffix', path: '/api/users/1%00.json', canonical: null },
  { name: 'an encoded line feed', path: '/api/users/1%0a', canonical: null },
  { name: 'an empty segment', path: '/api//users/1', canonical: null },
  { name: 'a leading double slash', path: '//api/users/1', canonical: null },
  { name: 'an upper-case prefix', path: '/API/users/1', canonical: '/API/users/1' },
  { name: 'a mixed-case route segment', path: '/api/Users/1', canonical: '/api/Users/1' },
  { name: 'a mixed-case percent escape that decodes to upper case', path: '/api/us%45rs/1', canonical: '/api/usErs/1' },
  { name: 'a trailing dot on a segment', path: '/api/users./1', canonical: '/api/users./1' },
  { name: 'a trailing dot on the id', path: '/api/users/1.', canonical: '/api/users/1.' },
  { name: 'a trailing slash', path: '/api/users/1/', canonical: '/api/users/1/' },
  { name: 'a trailing dot segment', path: '/api/users/1/.', canonical: null },
  { name: 'a semicolon parameter', path: '/api/users;x=1/1', canonical: '/api/users;x=1/1' },
  { name: 'a full-width letter', path: '/api/%EF%BD%95sers/1', canonical: '/api/%EF%BD%95sers/1' },
  { name: 'a lone UTF-8 continuation byte', path: '/api/users/%80', canonical: null },
  { name: 'truncated percent-encoding', path: '/api/users/%E0%A4%A', canonical: null },
  { name: 'an absolute URL as the request target', path: 'http://evil.test/api/users/1', canonical: null },
];

// ---------------------------------------------------------------------------
// Bodies: content types, broken JSON, size and depth

/** JSON arrays nested `depth` deep: 200 kB at the default, well within a 1 MiB body limit. */
export function deeplyNested(depth = 100_000): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

export interface BodyCase {
  name: string;
  contentType: string | null;
  body: string | Buffer;
  status: number;
  code: string;
}

/** Bodies every JSON route of a service refuses, whatever its schema. */
export const BODY_CASES: readonly BodyCase[] = [
  { name: 'text/plain', contentType: 'text/plain', body: '{"a":1}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  {
    name: 'a form',
    contentType: 'application/x-www-form-urlencoded',
    body: 'a=1&b=2',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'multipart',
    contentType: 'multipart/form-data; boundary=x',
    body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a look-alike JSON type',
    contentType: 'application/jsonx',
    body: '{}',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  { name: 'no content type', contentType: null, body: '{"a":1}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  {
    name: 'JSON declared and sent as UTF-16',
    contentType: 'application/json; charset=utf-16',
    body: Buffer.from('{"a":1}', 'utf16le'),
    status: 400,
    code: 'INVALID_JSON',
  },
  // Parsed like application/json (media types ignore case): the schema then refuses the empty object.
  {
    name: 'an upper-case JSON type',
    contentType: 'APPLICATION/JSON',
    body: '{}',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  { name: 'truncated JSON', contentType: 'application/json', body: '{"a":', status: 400, code: 'INVALID_JSON' },
  { name: 'a trailing comma', contentType: 'application/json', body: '{"a":1,}', status: 400, code: 'INVALID_JSON' },
  { name: 'single quotes', contentType: 'application/json', body: "{'a':1}", status: 400, code: 'INVALID_JSON' },
  { name: 'NaN', contentType: 'application/json', body: '{"a":NaN}', status: 400, code: 'INVALID_JSON' },
  { name: 'two JSON values', contentType: 'application/json', body: '{}{}', status: 400, code: 'INVALID_JSON' },
  { name: 'an empty body', contentType: 'application/json', body: '', status: 400, code: 'INVALID_JSON' },
  {
    name: 'a raw NUL byte',
    contentType: 'application/json',
    body: '{"a":"\u0000"}',
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'bytes that are not UTF-8',
    contentType: 'application/json',
    body: Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'a prototype-polluting key',
    contentType: 'application/json',
    body: '{"__proto__":{"admin":true}}',
    status: 400,
    code: 'INVALID_JSON',
  },
  { name: 'a JSON array', contentType: 'application/json', body: '[]', status: 400, code: 'VALIDATION_FAILED' },
  { name: 'JSON null', contentType: 'application/json', body: 'null', status: 400, code: 'VALIDATION_FAILED' },
  { name: 'a JSON string', contentType: 'application/json', body: '"x"', status: 400, code: 'VALIDATION_FAILED' },
  {
    name: '100,000 nested arrays',
    contentType: 'application/json',
    body: deeplyNested(),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: '100,000 nested objects',
    contentType: 'application/json',
    body: `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
];

/** A body one byte over `limit`, which must be refused with 413 PAYLOAD_TOO_LARGE. */
export function oversizedBody(limit: number): string {
  return `{"a":"${'x'.repeat(limit)}"}`;
}

// ---------------------------------------------------------------------------
// Text in fields

export interface HostileText {
  name: string;
  text: string;
  /**
   * Whether a service must store it and give it back unchanged; otherwise it
   * must refuse it with 400 VALIDATION_FAILED. Postgres text cannot hold NUL,
   * and an unpaired surrogate has no UTF-8 form: neither can round-trip.
   * No text starts or ends with whitespace: ShopCo trims names on purpose.
   */
  storable: boolean;
}

export const HOSTILE_TEXT: readonly HostileText[] = [
  { name: 'a quote that ends a SQL string', text: "O'Brien' OR '1'='1", storable: true },
  { name: 'a stacked SQL statement', text: "x'); DROP TABLE users;--", storable: true },
  { name: 'a SQL comment and a union', text: '1 UNION SELECT password_hash FROM users --', storable: true },
  { name: 'LIKE wildcards', text: '100% _off_ \\%', storable: true },
  { name: 'backslashes and a Postgres escape string', text: "E'\\x00' \\\\ \\n", storable: true },
  { name: 'a dollar-quoted string', text: '$$; SELECT 1; $$', storable: true },
  { name: 'JSON and HTML metacharacters', text: '{"a":1}</script><img src=x onerror=alert(1)>', storable: true },
  { name: 'accents and CJK', text: 'Zoë Ñandú 名前 이름', storable: true },
  { name: 'astral plane characters and emoji', text: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧‍👦 🏳️‍🌈', storable: true },
  { name: 'decomposed combining marks (NFD)', text: 'Zoe\u0308 Cafe\u0301', storable: true },
  {
    name: 'right-to-left override and zero-width characters',
    text: 'abc\u202Edef\u200B\u200D\uFEFFghi',
    storable: true,
  },
  { name: 'control characters other than NUL', text: 'tab\tnew\nline\r\u0001\u001f\u007f', storable: true },
  { name: 'noncharacters', text: 'x\uFFFE\uFFFFy', storable: true },
  { name: 'a NUL character', text: 'a\u0000b', storable: false },
  { name: 'an unpaired high surrogate', text: 'a\uD800b', storable: false },
  { name: 'an unpaired low surrogate', text: 'a\uDC00b', storable: false },
];
