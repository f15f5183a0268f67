import { describe, expect, it } from 'vitest';
import { bearerToken } from '../src/auth/bearer.ts';
import { decoyHash, hashPassword, verifyPassword } from '../src/auth/passwords.ts';
import { createTokenService, TOKEN_ISSUER } from '../src/auth/tokens.ts';

describe('tokens', () => {
  const tokens = createTokenService('secret-a', 3600);
  it('carry the user id and are refused when forged, foreign or malformed', () => {
    expect(tokens.verify(tokens.issue(42))).toBe(42);
    const other = createTokenService('secret-b', 3600);
    expect(tokens.verify(other.issue(42))).toBeNull();
    expect(tokens.verify('not.a.token')).toBeNull();
    const [header, , signature] = tokens.issue(1).split('.');
    const payload = Buffer.from(JSON.stringify({ sub: '2', iss: TOKEN_ISSUER })).toString('base64url');
    expect(tokens.verify(`${header}.${payload}.${signature}`)).toBeNull();
  });

  it('are accepted by any service that shares the secret, whatever its TTL', () => {
    // The monolith and the users service each make their own token service.
    const monolith = createTokenService('shared', 3600);
    const usersService = createTokenService('shared', 60);
    expect(usersService.verify(monolith.issue(7))).toBe(7);
    expect(monolith.verify(usersService.issue(8))).toBe(8);
  });
});

describe('passwords', () => {
  it('verify the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('wrong horse', a)).toBe(false);
    expect(await verifyPassword('correct horse', 'md5$garbage')).toBe(false);
  });

  it('keep one decoy hash per process, which no password is likely to match', async () => {
    expect(await decoyHash()).toBe(await decoyHash());
    expect(await decoyHash()).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('', await decoyHash())).toBe(false);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['  Bearer abc.def.ghi  ', 'abc.def.ghi'],
  ])('reads the token of %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearer a,b', ['Bearer a', 'Bearer b']])(
    'finds no token in %j',
    (header) => {
      expect(bearerToken(header)).toBeNull();
    },
  );
});
