import { createKnex } from '@strangler/foundation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Call, client, errorCode, type ShopCo, signUp, startShopCo } from './helpers.ts';

let shop: ShopCo;
let call: Call;

beforeAll(async () => {
  shop = await startShopCo();
  call = client(shop.url);
});
afterAll(() => shop.close());

describe('POST /api/users/register', () => {
  it('creates a user and never returns the password hash', async () => {
    const res = await call('POST', '/api/users/register', {
      body: { email: 'grace@example.com', password: 'a long password', name: 'Grace Hopper' },
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'email', 'id', 'name', 'updatedAt']);
    expect(res.body).toMatchObject({ email: 'grace@example.com', name: 'Grace Hopper' });
    expect(Number.isInteger(res.body.id)).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('scrypt');
  });

  it('stores the password as an scrypt hash, not as text', async () => {
    const knex = createKnex({ url: shop.db.url });
    try {
      const row = await knex('users').where({ email: 'grace@example.com' }).first();
      expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
      expect(row.password_hash).not.toContain('a long password');
      expect(row.full_name).toBe('Grace Hopper');
    } finally {
      await knex.destroy();
    }
  });

  it('refuses an email that differs only in case with 409', async () => {
    const res = await call('POST', '/api/users/register', {
      body: { email: 'GRACE@Example.com', password: 'another password', name: 'Impostor' },
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
});

describe('POST /api/users/login', () => {
  it('returns a token and the user for the right password, whatever the email case', async () => {
    const user = await signUp(call, { email: 'Linus@Example.com' });
    const res = await call<{ token: string; user: { id: number } }>('POST', '/api/users/login', {
      body: { email: 'linus@example.COM', password: user.password },
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
    const user = await signUp(call);
    const res = await call('GET', `/api/users/${user.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, email: user.email });
  });

  it('answers 404 for an unknown id', async () => {
    const res = await call('GET', '/api/users/999999');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('USERS_NOT_FOUND');
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
    const res = await call('PUT', `/api/users/${user.id}`, {
      token: user.token,
      body: { name: 'Renamed', email: `renamed.${user.id}@example.com`, password: 'brand new password' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, name: 'Renamed', email: `renamed.${user.id}@example.com` });
    expect(new Date(res.body.updatedAt as string) >= new Date(res.body.createdAt as string)).toBe(true);
    const login = await call('POST', '/api/users/login', {
      body: { email: `renamed.${user.id}@example.com`, password: 'brand new password' },
    });
    expect(login.status).toBe(200);
    const oldLogin = await call('POST', '/api/users/login', {
      body: { email: `renamed.${user.id}@example.com`, password: user.password },
    });
    expect(oldLogin.status).toBe(401);
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
  });
});
