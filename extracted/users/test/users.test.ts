import { createKnex, type Knex } from '@strangler/foundation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Call, client, errorCode, type Started, signUp, startUsersService } from './helpers.ts';

// The service's own route tests, mirroring monolith/test/users.test.ts, plus
// what is new in its schema: the split name, the normalised email, the sequence.

let service: Started;
let call: Call;
let db: Knex;

beforeAll(async () => {
  service = await startUsersService();
  call = client(service.url);
  db = createKnex({ url: service.db.url });
});
afterAll(async () => {
  await db?.destroy();
  await service?.close();
});

describe('POST /api/users/register', () => {
  it('creates a user and never returns the password hash', async () => {
    const res = await call('POST', '/api/users/register', {
      body: { email: 'Grace@Example.com', password: 'a long password', name: 'Grace Brewster Hopper' },
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'email', 'id', 'name', 'updatedAt']);
    expect(res.body).toMatchObject({ email: 'Grace@Example.com', name: 'Grace Brewster Hopper' });
    expect(Number.isInteger(res.body.id)).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('scrypt');
  });

  it('stores an scrypt hash, the split name and the normalised email', async () => {
    const row = await db('users').where({ email: 'Grace@Example.com' }).first();
    expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(row.password_hash).not.toContain('a long password');
    expect(row).toMatchObject({
      first_name: 'Grace',
      last_name: 'Brewster Hopper',
      email_normalized: 'grace@example.com',
    });
  });

  it('trims the name and email and keeps a one-word name whole', async () => {
    const res = await call('POST', '/api/users/register', {
      body: { email: 'cher@example.com', password: 'a long password', name: '  Cher  ' },
    });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('Cher');
    const row = await db('users').where({ id: res.body.id }).first();
    expect(row).toMatchObject({ first_name: 'Cher', last_name: '' });
  });

  it('refuses an email that differs only in case with 409', async () => {
    const res = await call('POST', '/api/users/register', {
      body: { email: 'GRACE@example.COM', password: 'another password', name: 'Impostor' },
    });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('USERS_EMAIL_TAKEN');
  });

  it.each([
    ['a missing field', { email: 'x@example.com', password: 'password123' }],
    ['a malformed email', { email: 'not-an-email', password: 'password123', name: 'X' }],
    ['a short password', { email: 'x@example.com', password: 'short', name: 'X' }],
    ['a blank name', { email: 'x@example.com', password: 'password123', name: '   ' }],
    ['an unknown field', { email: 'x@example.com', password: 'password123', name: 'X', admin: true }],
    ['a number where text belongs', { email: 'x@example.com', password: 12345678, name: 'X' }],
  ])('rejects %s with 400 and the error JSON', async (_label, body) => {
    const res = await call('POST', '/api/users/register', { body });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
    expect(typeof (res.body as { error: { message: string } }).error.message).toBe('string');
  });

  it('answers 400 INVALID_JSON for a body that does not parse', async () => {
    const res = await call('POST', '/api/users/register', {
      rawBody: '{"email":',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('INVALID_JSON');
  });
});

describe('POST /api/users/login', () => {
  it('returns a token and the user for the right password, whatever the email case', async () => {
    const user = await signUp(call, { email: 'Linus@Example.com' });
    const res = await call<{ token: string; user: { id: number } }>('POST', '/api/users/login', {
      body: { email: ' linus@example.COM ', password: user.password },
    });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(user.id);
    expect(res.body.token.split('.')).toHaveLength(3);
  });

  it('gives the same 401 for a wrong password and an unknown email', async () => {
    const user = await signUp(call);
    const wrongPassword = await call('POST', '/api/users/login', {
      body: { email: user.email, password: 'nope-nope' },
    });
    const unknownEmail = await call('POST', '/api/users/login', {
      body: { email: 'nobody@example.com', password: 'nope-nope' },
    });
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(wrongPassword.body).toEqual(unknownEmail.body);
    expect(errorCode(wrongPassword)).toBe('USERS_INVALID_CREDENTIALS');
  });
});

describe('GET /api/users/:id', () => {
  it('returns the user', async () => {
    const user = await signUp(call, { name: 'José  María de la Cruz' });
    const res = await call('GET', `/api/users/${user.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, email: user.email, name: 'José  María de la Cruz' });
  });

  it('answers 404 for an unknown id', async () => {
    const res = await call('GET', '/api/users/999999');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('USERS_NOT_FOUND');
    expect(res.body).toEqual({ error: { code: 'USERS_NOT_FOUND', message: 'User 999999 not found' } });
  });

  it.each(['abc', '1.5', '-1', '0', '99999999999', '1e3'])('answers 400 for the non-id %s', async (id) => {
    const res = await call('GET', `/api/users/${id}`);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });
});

describe('PUT /api/users/:id', () => {
  it('lets a user change their own name, email and password', async () => {
    const user = await signUp(call);
    const email = `Renamed.${user.id}@Example.com`;
    const res = await call('PUT', `/api/users/${user.id}`, {
      token: user.token,
      body: { name: 'Renamed  Twice Over', email, password: 'brand new password' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, name: 'Renamed  Twice Over', email });
    expect(new Date(res.body.updatedAt as string) >= new Date(res.body.createdAt as string)).toBe(true);
    const row = await db('users').where({ id: user.id }).first();
    expect(row).toMatchObject({
      first_name: 'Renamed',
      last_name: ' Twice Over',
      email_normalized: email.toLowerCase(),
    });
    const login = await call('POST', '/api/users/login', { body: { email, password: 'brand new password' } });
    expect(login.status).toBe(200);
    const oldLogin = await call('POST', '/api/users/login', { body: { email, password: user.password } });
    expect(oldLogin.status).toBe(401);
  });

  it('lets a user change the case of their own email', async () => {
    const user = await signUp(call);
    const res = await call('PUT', `/api/users/${user.id}`, {
      token: user.token,
      body: { email: user.email.toUpperCase() },
    });
    expect(res.status).toBe(200);
    expect(res.body.email).toBe(user.email.toUpperCase());
  });

  it('answers 401 without a token and with a bad one', async () => {
    const user = await signUp(call);
    const none = await call('PUT', `/api/users/${user.id}`, { body: { name: 'X' } });
    expect(none.status).toBe(401);
    expect(errorCode(none)).toBe('AUTH_TOKEN_MISSING');
    const forged = `${user.token.slice(0, -4)}AAAA`;
    const bad = await call('PUT', `/api/users/${user.id}`, { token: forged, body: { name: 'X' } });
    expect(bad.status).toBe(401);
    expect(errorCode(bad)).toBe('AUTH_TOKEN_INVALID');
  });

  it("answers 403 for someone else's account and changes nothing", async () => {
    const alice = await signUp(call);
    const bob = await signUp(call);
    const res = await call('PUT', `/api/users/${bob.id}`, { token: alice.token, body: { name: 'Hijacked' } });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('AUTH_FORBIDDEN');
    const after = await call('GET', `/api/users/${bob.id}`);
    expect(after.body.name).not.toBe('Hijacked');
  });

  it('refuses to take an email another user has, case-insensitively', async () => {
    const alice = await signUp(call);
    const bob = await signUp(call);
    const res = await call('PUT', `/api/users/${bob.id}`, {
      token: bob.token,
      body: { email: alice.email.toUpperCase() },
    });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('USERS_EMAIL_TAKEN');
  });

  it('rejects an empty change with 400', async () => {
    const user = await signUp(call);
    const res = await call('PUT', `/api/users/${user.id}`, { token: user.token, body: {} });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });
});

describe('the users schema', () => {
  it('gives users.id an identity sequence named users_id_seq, owned by the column', async () => {
    const { rows } = await db.raw(
      "select pg_get_serial_sequence('users', 'id') as sequence, (select is_identity from information_schema.columns where table_name = 'users' and column_name = 'id') as identity",
    );
    expect(rows[0]).toEqual({ sequence: 'public.users_id_seq', identity: 'YES' });
  });

  it('keeps ids written by the sync engine, and issues ids past them once the sequence is handed over', async () => {
    // The sync engine copies monolith rows with their ids; the identity allows it.
    await db('users').insert({
      id: 5000,
      email: 'copied@example.com',
      first_name: 'Copied',
      last_name: 'From Monolith',
      password_hash: 'scrypt$16384$8$1$AAAA$AAAA',
    });
    const copied = await call('GET', '/api/users/5000');
    expect(copied.body).toMatchObject({ id: 5000, name: 'Copied From Monolith', email: 'copied@example.com' });
    // The write cutover hands the sequence over; registrations then continue after the monolith's ids.
    await db.raw("select setval('users_id_seq', (select max(id) from users))");
    const next = await call('POST', '/api/users/register', {
      body: { email: 'after.cutover@example.com', password: 'a long password', name: 'After Cutover' },
    });
    expect(next.status).toBe(201);
    expect(next.body.id).toBe(5001);
  });

  it('computes email_normalized itself and refuses a write to it', async () => {
    await expect(
      db('users').insert({
        email: 'x@example.com',
        email_normalized: 'something-else',
        first_name: 'X',
        last_name: '',
        password_hash: 'x',
      }),
    ).rejects.toMatchObject({ code: '428C9' });
  });

  it('refuses a first name that is empty or holds a space', async () => {
    for (const firstName of ['', 'Two Words']) {
      await expect(
        db('users').insert({ email: `${firstName.length}@example.com`, first_name: firstName, password_hash: 'x' }),
      ).rejects.toMatchObject({ code: '23514', constraint: 'users_first_name_one_word' });
    }
  });
});
