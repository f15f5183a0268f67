import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { productsForward, productsReverse } from '../../src/contexts/products.ts';

const monolithRow = (price: string, description: string | null = 'A lamp') => ({
  id: 12,
  sku: 'LAMP-1',
  name: 'Desk lamp',
  description,
  price,
  stock: 7,
  created_at: new Date('2025-01-02T03:04:05.678Z'),
  updated_at: new Date('2025-02-03T04:05:06.789Z'),
});

describe('products mappings', () => {
  it('map a monolith row to the service schema: dollars to whole cents, stock, id and timestamps kept', () => {
    expect(productsForward.toTarget(monolithRow('19.90'))).toEqual({
      id: 12,
      sku: 'LAMP-1',
      name: 'Desk lamp',
      description: 'A lamp',
      price_cents: 1990,
      stock: 7,
      created_at: new Date('2025-01-02T03:04:05.678Z'),
      updated_at: new Date('2025-02-03T04:05:06.789Z'),
    });
  });

  it('bring every price back unchanged through forward then reverse (property)', () => {
    // NUMERIC(10,2): up to 8 whole digits and always two decimals, as the driver reads it.
    const price = fc
      .tuple(fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: 99 }))
      .map(([whole, frac]) => `${whole}.${String(frac).padStart(2, '0')}`);
    fc.assert(
      fc.property(price, fc.option(fc.string({ maxLength: 30 }), { nil: null }), (p, description) => {
        const there = productsForward.toTarget(monolithRow(p, description));
        // bigint columns come back from the driver as strings.
        const back = productsReverse.toTarget({ ...there, price_cents: String(there.price_cents) });
        expect(back).toEqual(monolithRow(p, description));
      }),
    );
  });

  it('treat a price the other side cannot hold as a poison row', () => {
    expect(() => productsForward.toTarget(monolithRow('-1.00'))).toThrow(/negative price/);
    expect(() => productsForward.toTarget({ ...monolithRow('1.00'), price: null })).toThrow(/not a dollar amount/);
    expect(() => productsReverse.toTarget({ ...monolithRow('1.00'), price_cents: '12.5' })).toThrow(/not a whole/);
    expect(() => productsReverse.toTarget({ ...monolithRow('1.00'), price_cents: -3 })).toThrow(/not a whole/);
  });
});
