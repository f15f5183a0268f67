import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { joinName, splitName } from '../src/users/name.ts';

describe('splitName', () => {
  it.each([
    ['Ada', { firstName: 'Ada', lastName: '' }],
    ['Ada Lovelace', { firstName: 'Ada', lastName: 'Lovelace' }],
    ['José María de la Cruz', { firstName: 'José', lastName: 'María de la Cruz' }],
    ['Grace  Hopper', { firstName: 'Grace', lastName: ' Hopper' }],
    ['张伟', { firstName: '张伟', lastName: '' }],
    ['Ngũgĩ wa\u00a0Thiong’o', { firstName: 'Ngũgĩ', lastName: 'wa\u00a0Thiong’o' }],
    ['Ada\tLovelace', { firstName: 'Ada\tLovelace', lastName: '' }],
    ['🙂 Smiley Face', { firstName: '🙂', lastName: 'Smiley Face' }],
  ])('splits %j at the first space only', (name, parts) => {
    expect(splitName(name)).toEqual(parts);
    expect(joinName(parts)).toBe(name);
  });
});

describe('joinName', () => {
  it('gives the first name alone when the last name is empty', () => {
    expect(joinName({ firstName: 'Cher', lastName: '' })).toBe('Cher');
  });
});

// Names as the API stores them: trimmed and non-empty. Spaces are made likely
// (the interesting character), next to any other text, unicode included.
const storedName = fc
  .array(fc.oneof(fc.constant(' '), fc.constant('  '), fc.string({ unit: 'grapheme', minLength: 1 })), {
    minLength: 1,
    maxLength: 8,
  })
  .map((pieces) => pieces.join('').trim())
  .filter((name) => name.length > 0);

// What a first name can be: non-empty, no space (the column's check constraint).
const firstName = fc.string({ unit: 'grapheme', minLength: 1 }).filter((s) => !s.includes(' '));

describe('the name mapping', () => {
  it('joinName(splitName(name)) is the name, for every trimmed non-empty name', () => {
    fc.assert(
      fc.property(storedName, (name) => {
        expect(joinName(splitName(name))).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it('splitName gives a non-empty first name without a space, as the schema requires', () => {
    fc.assert(
      fc.property(storedName, (name) => {
        const { firstName } = splitName(name);
        expect(firstName.length).toBeGreaterThan(0);
        expect(firstName).not.toContain(' ');
      }),
      { numRuns: 2000 },
    );
  });

  it('splitName(joinName(parts)) gives the parts back, for every valid pair', () => {
    fc.assert(
      fc.property(firstName, fc.string({ unit: 'grapheme' }), (first, last) => {
        expect(splitName(joinName({ firstName: first, lastName: last }))).toEqual({ firstName: first, lastName: last });
      }),
      { numRuns: 2000 },
    );
  });
});
