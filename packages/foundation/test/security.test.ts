import { Writable } from 'node:stream';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { hashPassword } from '../src/auth/passwords.ts';
import { secretMatches } from '../src/auth/secret-compare.ts';
import { ConfigError, readConfig, requireSecret, secret, str } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { isSensitiveKey, REDACTED, redactDeep, redactText } from '../src/redact.ts';

const TOKEN = 'Admin-Token-0123456789abcdef';

describe('secretMatches', () => {
  it('accepts the exact secret only', () => {
    expect(secretMatches(TOKEN, TOKEN)).toBe(true);
    expect(secretMatches(`${TOKEN}`.slice(0), TOKEN)).toBe(true);
  });

  it.each([
    ['a prefix of it', TOKEN.slice(0, -1)],
    ['its first character', TOKEN.slice(0, 1)],
    ['a longer one that starts with it', `${TOKEN}x`],
    ['a different length', 'short'],
    ['the same length, last character different', `${TOKEN.slice(0, -1)}g`],
    ['the same length, first character different', `b${TOKEN.slice(1)}`],
    ['another case', TOKEN.toLowerCase()],
    ['surrounding spaces', ` ${TOKEN} `],
    ['an empty string', ''],
  ])('refuses %s', (_what, given) => {
    expect(secretMatches(given, TOKEN)).toBe(false);
  });

  it('refuses a missing secret, and matches nothing when the expected secret is empty', () => {
    expect(secretMatches(null, TOKEN)).toBe(false);
    expect(secretMatches(undefined, TOKEN)).toBe(false);
    expect(secretMatches('', '')).toBe(false);
    expect(secretMatches(null, '')).toBe(false);
  });

  it('compares secrets of any length and any characters without throwing (timingSafeEqual alone would)', () => {
    expect(secretMatches('ä'.repeat(10_000), TOKEN)).toBe(false);
    expect(secretMatches('ä'.repeat(10_000), 'ä'.repeat(10_000))).toBe(true);
  });
});

describe('redaction', () => {
  it('knows one list of sensitive keys, whatever their spelling', () => {
    for (const key of [
      'password',
      'password_hash',
      'passwordHash',
      'Password-Hash',
      'token',
      'Authorization',
      'cookie',
    ]) {
      expect(isSensitiveKey(key), key).toBe(true);
    }
    for (const key of ['email', 'name', 'id', 'status', 'tokens_used_by_nobody']) {
      expect(isSensitiveKey(key), key).toBe(false);
    }
  });

  it('redacts sensitive keys at any depth, and leaves clean values untouched (same object)', () => {
    const clean = { user: { id: 1, email: 'ada@example.com' }, items: [{ productId: 2 }] };
    expect(redactDeep(clean)).toBe(clean);
    const dirty = { a: { b: { c: [{ password_hash: 'x', name: 'Ada' }] } }, token: 'abc', password: null };
    expect(redactDeep(dirty)).toEqual({
      a: { b: { c: [{ password_hash: REDACTED, name: 'Ada' }] } },
      token: REDACTED,
      password: null,
    });
    expect(dirty.a.b.c[0]?.password_hash).toBe('x');
  });

  it('shows nothing nested deeper than it walks, so no secret hides below the limit', () => {
    let deep: Record<string, unknown> = { passwordHash: 'x', note: 'deep' };
    for (let i = 0; i < 50; i++) deep = { a: deep };
    expect(JSON.stringify(redactDeep(deep))).not.toContain('"x"');
    expect(JSON.stringify(redactDeep(deep))).toContain('[redacted: nested too deep]');
    let shallow: Record<string, unknown> = { passwordHash: 'x' };
    for (let i = 0; i < 12; i++) shallow = { a: shallow };
    expect(JSON.stringify(redactDeep(shallow))).toContain(`"passwordHash":"${REDACTED}"`);
  });

  it('redacts secret-shaped text: password hashes, JWTs, bearer credentials, URL passwords', async () => {
    const hash = await hashPassword('correct horse');
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
    const bcrypt = '$2b$10$aganWtC1swm3jQaqWKplGeUfVLrnbRKO9jQV0iGaeKe3tW2kZKOE6';
    const text = `row (7, ada@example.com, ${hash}) token ${jwt} Authorization: Bearer abc.def bcrypt ${bcrypt} postgres://shop:pw@db/x $argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA`;
    const out = redactText(text);
    for (const secretPart of [hash, jwt, 'abc.def', bcrypt, ':pw@', 'aGFzaA']) expect(out).not.toContain(secretPart);
    expect(out).toContain('ada@example.com');
    expect(out).toContain('Bearer [redacted]');
    expect(out).toContain('postgres://shop:[redacted]@db/x');
    expect(redactText('nothing to see here')).toBe('nothing to see here');
  });
});

describe('secret(): secrets come from the environment; development defaults only outside production', () => {
  const schema = { SIGNING_KEY: secret({ development: 'dev-key-in-the-repo', doc: 'the signing key' }) };

  it('falls back to the development value outside production', () => {
    expect(readConfig(schema, {}).SIGNING_KEY).toBe('dev-key-in-the-repo');
    expect(readConfig(schema, { NODE_ENV: 'test' }).SIGNING_KEY).toBe('dev-key-in-the-repo');
    expect(readConfig(schema, { SIGNING_KEY: 'mine' }).SIGNING_KEY).toBe('mine');
  });

  it('refuses a missing secret and the development value in production, naming the variable', () => {
    expect(() => readConfig(schema, { NODE_ENV: 'production' })).toThrow(
      /SIGNING_KEY must be set in production \(the signing key\)/,
    );
    expect(() => readConfig(schema, { NODE_ENV: 'production', SIGNING_KEY: 'dev-key-in-the-repo' })).toThrow(
      /SIGNING_KEY is the development default, which is public/,
    );
    expect(readConfig(schema, { NODE_ENV: 'production', SIGNING_KEY: 'a-real-one' }).SIGNING_KEY).toBe('a-real-one');
  });

  it('lets a secret some deployments do not use be absent in production, and refuses it where it is used', () => {
    const optional = {
      NAME: str({ default: 'x' }),
      TOKEN: secret({ development: 'dev', doc: 'a token', optionalInProduction: true }),
    };
    const config = readConfig(optional, { NODE_ENV: 'production' });
    expect(config.TOKEN).toBe('');
    expect(() => requireSecret(config.TOKEN, 'TOKEN', 'a token')).toThrow(ConfigError);
    expect(() => requireSecret(config.TOKEN, 'TOKEN', 'a token')).toThrow(/TOKEN must be set \(a token\)/);
    expect(() => readConfig(optional, { NODE_ENV: 'production', TOKEN: 'dev' })).toThrow(/development default/);
  });
});

describe('the logger', () => {
  function capture() {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    return { logger: createLogger({ name: 'test', level: 'info' }, sink), text: () => lines.join('') };
  }

  it('never writes passwords or hashes, at any depth, nor a Postgres error detail that quotes the row', async () => {
    const hash = await hashPassword('hunter2-is-my-password');
    const client = new pg.Client({ connectionString: inject('databaseUrl') });
    await client.connect();
    let pgError: unknown;
    try {
      await client.query(
        'CREATE TEMP TABLE users_like (id int, password_hash text NOT NULL CHECK (length(password_hash) < 10))',
      );
      await client.query('INSERT INTO users_like VALUES ($1, $2)', [1, hash]);
    } catch (err) {
      pgError = err;
    } finally {
      await client.end();
    }
    // The bug this guards against: Postgres quotes the failing row, the hash's salt and most of its key included.
    const salt = hash.split('$')[4] as string;
    expect((pgError as { detail?: string }).detail).toContain(salt);

    const { logger, text } = capture();
    logger.error({ err: pgError }, 'request failed');
    logger.error({ err: new Error('wrapped', { cause: pgError }) }, 'request failed');
    logger.info({ body: { user: { email: 'ada@example.com', password: 'hunter2-is-my-password' } } }, 'nested');
    logger.info({ req: { headers: { authorization: 'Bearer abc', cookie: 'strangler_admin=xyz' } } }, 'headers');
    logger.warn(`message with ${hash} inside`);
    logger.info({ note: `text with ${hash}` }, 'free text');
    const out = text();
    expect(out).not.toContain(salt);
    expect(out).not.toContain('hunter2-is-my-password');
    expect(out).not.toContain('abc');
    expect(out).not.toContain('xyz');
    expect(out).toContain('ada@example.com');
    expect(out).toContain('users_like_password_hash_check');
  });
});
