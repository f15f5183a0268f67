import { createKnex, type Knex } from '@strangler/foundation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';
import { joinName, splitName } from '../src/users/name.ts';
import { type Call, client, errorCode, type Started, startMonolith, startUsersService } from './helpers.ts';

// A user is never logged out by the migration, and keeps their password: tokens
// issued by either side are accepted by the other (same JWT_SECRET), and a
// password hash copied across verifies at the other side's login.

const JWT_SECRET = 'cross-auth-test-secret-of-our-own';
const PASSWORD = 'correct horse battery';

let monolith: Started;
let service: Started;
let callMonolith: Call;
let callService: Call;
let monolithDb: Knex;
let serviceDb: Knex;

beforeAll(async () => {
  [monolith, service] = await Promise.all([startMonolith({ JWT_SECRET }), startUsersService({ JWT_SECRET })]);
  callMonolith = client(monolith.url);
  callService = client(service.url);
  monolithDb = createKnex({ url: monolith.db.url });
  serviceDb = createKnex({ url: service.db.url });
});
afterAll(async () => {
  await Promise.all([monolithDb?.destroy(), serviceDb?.destroy()]);
  await Promise.all([monolith?.close(), service?.close()]);
});

/** Copies a monolith row into the service's schema, as the sync engine will. */
async function copyToService(id: number): Promise<void> {
  const row = await monolithDb('users').where({ id }).first();
  const { firstName, lastName } = splitName(row.full_name);
  await serviceDb('users').insert({
    id: row.id,
    email: row.email,
    first_name: firstName,
    last_name: lastName,
    password_hash: row.password_hash,
    created_at: row.created_at,
    updated_at: row.updated_at,
  });
}

/** Copies a service row back into the monolith's schema, as the reverse sync will. */
async function copyToMonolith(id: number): Promise<void> {
  const row = await serviceDb('users').where({ id }).first();
  await monolithDb('users').insert({
    id: row.id,
    email: row.email,
    full_name: joinName({ firstName: row.first_name, lastName: row.last_name }),
    password_hash: row.password_hash,
    created_at: row.created_at,
    updated_at: row.updated_at,
  });
}

async function login(call: Call, email: string, password = PASSWORD) {
  return call<{ token: string; user: { id: number } }>('POST', '/api/users/login', { body: { email, password } });
}

describe('a user registered at the monolith', () => {
  let id: number;
  beforeAll(async () => {
    const res = await callMonolith('POST', '/api/users/register', {
      body: { email: 'Mono@Example.com', password: PASSWORD, name: 'Mono  Lith User' },
    });
    id = res.body.id as number;
    await copyToService(id);
  });

  it('reads the same at the service once the row is copied', async () => {
    const [fromMonolith, fromService] = await Promise.all([
      callMonolith('GET', `/api/users/${id}`),
      callService('GET', `/api/users/${id}`),
    ]);
    expect(fromService.status).toBe(200);
    expect(fromService.body).toEqual(fromMonolith.body);
  });

  it('logs in at the service with the password the monolith hashed', async () => {
    const res = await login(callService, 'mono@example.com');
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(id);
    expect(errorCode(await login(callService, 'mono@example.com', 'not the password'))).toBe(
      'USERS_INVALID_CREDENTIALS',
    );
  });

  it("is accepted at the service's PUT with the monolith's token", async () => {
    const { body } = await login(callMonolith, 'mono@example.com');
    const res = await callService('PUT', `/api/users/${id}`, {
      token: body.token,
      body: { name: 'Renamed At Service' },
    });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('Renamed At Service');
  });
});

describe('a user registered at the service', () => {
  let id: number;
  beforeAll(async () => {
    // Ids far from the monolith's, as after a cutover handed the sequence over.
    await serviceDb.raw("select setval('users_id_seq', 1000)");
    const res = await callService('POST', '/api/users/register', {
      body: { email: 'Svc@Example.com', password: PASSWORD, name: 'Service User' },
    });
    id = res.body.id as number;
    await copyToMonolith(id);
  });

  it('logs in at the monolith with the password the service hashed', async () => {
    const res = await login(callMonolith, 'svc@example.com');
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(id);
  });

  it("is accepted at the monolith's PUT with the service's token", async () => {
    const { body } = await login(callService, 'svc@example.com');
    const res = await callMonolith('PUT', `/api/users/${id}`, {
      token: body.token,
      body: { name: 'Renamed At Monolith' },
    });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('Renamed At Monolith');
  });
});

describe('a service with another JWT_SECRET', () => {
  it("refuses the monolith's tokens: the shared secret is what makes them portable", async () => {
    const other = await buildApp(testConfig({ DATABASE_URL: service.db.url, JWT_SECRET: 'a-different-secret' }));
    try {
      await callMonolith('POST', '/api/users/register', {
        body: { email: 'other@example.com', password: PASSWORD, name: 'Other' },
      });
      const { body } = await login(callMonolith, 'other@example.com');
      const res = await other.inject({
        method: 'PUT',
        url: '/api/users/1',
        headers: { authorization: `Bearer ${body.token}`, 'content-type': 'application/json' },
        payload: { name: 'X' },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('AUTH_TOKEN_INVALID');
    } finally {
      await other.close();
    }
  });
});
