import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usersForward, usersReverse } from '../../src/contexts/users.ts';

const monolithRow = (fullName: string) => ({
  id: 7,
  email: 'Ada@Example.com',
  full_name: fullName,
  password_hash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
  created_at: new Date('2025-01-02T03:04:05.678Z'),
  updated_at: new Date('2025-02-03T04:05:06.789Z'),
});

describe('users mappings', () => {
  it('map a monolith row to the service schema, keeping id, email as typed, hash and timestamps', () => {
    expect(usersForward.toTarget(monolithRow('Ada King Lovelace'))).toEqual({
      id: 7,
      email: 'Ada@Example.com',
      first_name: 'Ada',
      last_name: 'King Lovelace',
      password_hash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
      created_at: new Date('2025-01-02T03:04:05.678Z'),
      updated_at: new Date('2025-02-03T04:05:06.789Z'),
    });
  });

  it('bring every stored name back unchanged through forward then reverse (property)', () => {
    const trimmedName = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    fc.assert(
      fc.property(trimmedName, (name) => {
        const there = usersForward.toTarget(monolithRow(name));
        const back = usersReverse.toTarget(there);
        expect(back).toEqual(monolithRow(name));
      }),
    );
  });

  it('treat a legacy name the service cannot store as a poison row', () => {
    expect(() => usersForward.toTarget(monolithRow(' leading space'))).toThrow(/space-led/);
    expect(() => usersForward.toTarget({ ...monolithRow('x'), full_name: null })).toThrow(/not text/);
  });
});
