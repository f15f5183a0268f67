import { createTokenService, DEVELOPMENT_JWT_SECRET } from '@strangler/foundation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Call,
  type CallOptions,
  client,
  type JsonResponse,
  type Started,
  startMonolith,
  startUsersService,
} from './helpers.ts';

/**
 * Contract tests: the same requests, in the same order, against ShopCo and the
 * users service, each on a fresh database. Every answer must be equal (status,
 * content type, JSON body), ids included, because both id sequences start at 1
 * and both consume an id on a failed insert. Only what each side stamps on
 * its own is compared by form: createdAt / updatedAt (ISO timestamps) and
 * login tokens (a JWT for the same user id).
 */

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const PASSWORD = 'correct horse battery';

type Auth = { user: string } | { raw: string };

interface Step {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /** The bearer token of a user logged in by an earlier step (on the same side), or a literal one. */
  auth?: Auth;
  /** Remember the token of this login under a name. */
  saveTokenAs?: string;
}

const register = (email: string, name: string, password = PASSWORD): Step => ({
  name: `register ${JSON.stringify(name)} <${email}>`,
  method: 'POST',
  path: '/api/users/register',
  body: { email, password, name },
});
const login = (email: string, password: string, saveTokenAs?: string): Step => ({
  name: `login <${email}> ${saveTokenAs ? 'right' : 'with a wrong or unknown'} password`,
  method: 'POST',
  path: '/api/users/login',
  body: { email, password },
  ...(saveTokenAs ? { saveTokenAs } : {}),
});
const get = (id: string): Step => ({ name: `get ${id}`, method: 'GET', path: `/api/users/${id}` });
const update = (name: string, id: string, body: unknown, auth?: Auth): Step => ({
  name,
  method: 'PUT',
  path: `/api/users/${id}`,
  body,
  ...(auth ? { auth } : {}),
});

const jose: Auth = { user: 'jose' };

const STEPS: Step[] = [
  register('Ada@Example.com', 'Ada Lovelace'),
  register('jose@example.com', 'José  María de la Cruz'),
  register('zhang.wei@example.com', '张伟'),
  register('grace@example.com', '   Grace   Brewster Hopper  '),
  register('ngugi@example.com', 'Ngũgĩ wa\u00a0Thiong’o'),
  register('smiley@example.com', '🙂 Smiley\tFace'),
  register('ada@EXAMPLE.COM', 'Ada Again'),
  register('ADA@example.com', 'Ada Thrice'),
  {
    ...register('x@example.com', 'X'),
    name: 'register without a name',
    body: { email: 'x@example.com', password: PASSWORD },
  },
  register('not-an-email', 'X'),
  register('x@example.com', 'X', 'short'),
  register('x@example.com', '   '),
  { ...register('x@example.com', 'x'.repeat(201)), name: 'register with a 201-character name' },
  {
    ...register('x@example.com', 'X'),
    name: 'register with an unknown field',
    body: { email: 'x@example.com', password: PASSWORD, name: 'X', admin: true },
  },
  {
    ...register('x@example.com', 'X'),
    name: 'register with a number for a password',
    body: { email: 'x@example.com', password: 12345678, name: 'X' },
  },
  { ...register('x@example.com', 'X'), name: 'register with an array body', body: [1, 2] },
  {
    name: 'register with JSON that does not parse',
    method: 'POST',
    path: '/api/users/register',
    rawBody: '{"email":',
    headers: { 'content-type': 'application/json' },
  },
  {
    name: 'register with a form body',
    method: 'POST',
    path: '/api/users/register',
    rawBody: 'email=x',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  },
  register('after.failures@example.com', 'After Failures'),

  login('ada@example.com', PASSWORD, 'ada'),
  login(' jose@EXAMPLE.com ', PASSWORD, 'jose'),
  login('zhang.wei@example.com', PASSWORD, 'zhang'),
  login('Ada@Example.com', 'not the password'),
  login('nobody@example.com', PASSWORD),
  { ...login('ada@example.com', ''), name: 'login with an empty password' },
  { ...login('ada@example.com', PASSWORD), name: 'login without a password', body: { email: 'ada@example.com' } },

  get('1'),
  get('2'),
  get('3'),
  get('4'),
  get('5'),
  get('6'),
  get('999999'),
  get('2147483647'),
  ...['abc', '1.5', '-1', '0', '99999999999', '1e3', '0x1', '%20'].map(get),
  { name: 'an unknown route', method: 'GET', path: '/api/users' },

  update('rename own account', '1', { name: 'Augusta Ada  King' }, { user: 'ada' }),
  update('change own email and password', '2', { email: 'Jose.Maria@Example.com', password: 'a new password' }, jose),
  update('change the case of own email', '3', { email: 'Zhang.Wei@Example.com' }, { user: 'zhang' }),
  update("update someone else's account", '2', { name: 'Hijacked' }, { user: 'ada' }),
  update('update without a token', '1', { name: 'No Token' }),
  update('update with a malformed token', '1', { name: 'Bad Token' }, { raw: 'not-a-token' }),
  update(
    'update with a token signed by someone else',
    '1',
    { name: 'Forged' },
    {
      raw: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiaXNzIjoic2hvcGNvIn0.c2lnbmF0dXJlLW9mLWFub3RoZXIta2V5',
    },
  ),
  update('take an email another user has, in another case', '1', { email: 'JOSE.MARIA@example.com' }, { user: 'ada' }),
  update('an empty change', '1', {}, { user: 'ada' }),
  update('a change with an unknown field', '1', { name: 'X', role: 'admin' }, { user: 'ada' }),
  update('a blank name', '1', { name: ' ' }, { user: 'ada' }),
  update('an unknown id', '999999', { name: 'Nobody' }, { user: 'ada' }),
  update(
    'update an account that no longer exists, with its own valid token',
    '999999',
    { name: 'Ghost' },
    { raw: createTokenService(DEVELOPMENT_JWT_SECRET, 3600).issue(999999) },
  ),
  update('a non-integer id', 'abc', { name: 'X' }, { user: 'ada' }),
  update('a non-integer id without a token', 'abc', { name: 'X' }),

  get('1'),
  get('2'),
  get('3'),
  login('jose.maria@example.com', PASSWORD),
  login('jose.maria@example.com', 'a new password', 'jose2'),
  update('update with the new login', '2', { name: 'José' }, { user: 'jose2' }),
  get('2'),
];

/** Tokens and timestamps made independently on each side, replaced by what must be equal about them. */
function comparable(value: unknown, key?: string): unknown {
  if (key === 'createdAt' || key === 'updatedAt') {
    expect(value, key).toMatch(ISO);
    return '<timestamp>';
  }
  if (key === 'token') {
    expect(typeof value).toBe('string');
    const [, payload] = (value as string).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as { sub?: string; iss?: string };
    return `<jwt iss=${claims.iss} sub=${claims.sub}>`;
  }
  if (Array.isArray(value)) return value.map((v) => comparable(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v, k)]));
  }
  return value;
}

interface Side {
  name: string;
  server: Started;
  call: Call;
  tokens: Map<string, string>;
}

async function send(side: Side, step: Step): Promise<JsonResponse> {
  const options: CallOptions = {};
  if (step.body !== undefined) options.body = step.body;
  if (step.rawBody !== undefined) options.rawBody = step.rawBody;
  if (step.headers) options.headers = step.headers;
  if (step.auth) {
    const token = 'raw' in step.auth ? step.auth.raw : side.tokens.get(step.auth.user);
    if (!token) throw new Error(`${side.name}: no token for ${JSON.stringify(step.auth)}`);
    options.token = token;
  }
  const res = await side.call(step.method, step.path, options);
  if (step.saveTokenAs && res.status === 200) {
    side.tokens.set(step.saveTokenAs, (res.body as { token: string }).token);
  }
  return res;
}

let monolith: Side;
let service: Side;
/** Every status (and error code) the monolith answered with, for the coverage check at the end. */
const answers = new Set<string>();

beforeAll(async () => {
  const [m, s] = await Promise.all([startMonolith(), startUsersService()]);
  monolith = { name: 'monolith', server: m, call: client(m.url), tokens: new Map() };
  service = { name: 'users service', server: s, call: client(s.url), tokens: new Map() };
});
afterAll(async () => {
  await Promise.all([monolith?.server.close(), service?.server.close()]);
});

describe('the users service answers like the monolith', () => {
  // One test per step, in order: each depends on the state the earlier ones left on both sides.
  it.each(STEPS.map((step, i) => [`${String(i + 1).padStart(2, '0')} ${step.name}`, step] as const))(
    '%s',
    async (_label, step) => {
      const [fromMonolith, fromService] = await Promise.all([send(monolith, step), send(service, step)]);
      const code = (fromMonolith.body as { error?: { code?: string } } | null)?.error?.code;
      answers.add(code ? `${fromMonolith.status} ${code}` : String(fromMonolith.status));
      expect({
        status: fromService.status,
        contentType: fromService.headers.get('content-type'),
        body: comparable(fromService.body),
      }).toEqual({
        status: fromMonolith.status,
        contentType: fromMonolith.headers.get('content-type'),
        body: comparable(fromMonolith.body),
      });
    },
  );

  it('sent requests that drew every answer the users routes give', () => {
    // A guard on the step list: the contract above is only as wide as what it sends.
    expect([...answers].sort()).toEqual(
      [
        '200',
        '201',
        '400 INVALID_JSON',
        '400 VALIDATION_FAILED',
        '401 AUTH_TOKEN_INVALID',
        '401 AUTH_TOKEN_MISSING',
        '401 USERS_INVALID_CREDENTIALS',
        '403 AUTH_FORBIDDEN',
        '404 NOT_FOUND',
        '404 USERS_NOT_FOUND',
        '409 USERS_EMAIL_TAKEN',
        '415 UNSUPPORTED_MEDIA_TYPE',
      ].sort(),
    );
  });
});
