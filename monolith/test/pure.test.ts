import { DEVELOPMENT_INTERNAL_API_TOKEN, DEVELOPMENT_JWT_SECRET } from '@strangler/foundation';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { centsToDollars, dollarsToCents } from '../src/money.ts';
import { canTransition, ORDER_STATUSES } from '../src/orders/status.ts';
import { isValidCardNumber } from '../src/payments/gateway.ts';
import { decodeCursor, encodeCursor } from '../src/products/cursor.ts';

describe('money', () => {
  it.each([
    ['0.00', 0],
    ['0.01', 1],
    ['0.1', 10],
    ['12.34', 1234],
    ['19.99', 1999],
    ['100', 10000],
    ['99999999.99', 9999999999],
  ])('reads %s dollars as %i cents and back', (dollars, cents) => {
    expect(dollarsToCents(dollars)).toBe(cents);
    expect(dollarsToCents(centsToDollars(cents))).toBe(cents);
  });

  it('refuses what is not money', () => {
    expect(() => dollarsToCents('1.234')).toThrow();
    expect(() => dollarsToCents('abc')).toThrow();
    expect(() => centsToDollars(1.5)).toThrow();
  });
});

describe('order status transitions', () => {
  it('allow exactly pending → paid → shipped, pending → cancelled, paid → refunded', () => {
    const allowed = ORDER_STATUSES.flatMap((from) =>
      ORDER_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed.sort()).toEqual(['paid→refunded', 'paid→shipped', 'pending→cancelled', 'pending→paid']);
  });
});

describe('search cursors', () => {
  it('round-trip and refuse what we did not issue', () => {
    expect(decodeCursor(encodeCursor(12345))).toBe(12345);
    for (const forged of [
      '',
      'abc',
      Buffer.from('p1:-1').toString('base64url'),
      Buffer.from('p1:99999999999').toString('base64url'),
      'a/b',
    ]) {
      expect(decodeCursor(forged)).toBeNull();
    }
  });
});

describe('card numbers', () => {
  it('follow the Luhn check', () => {
    expect(isValidCardNumber('4242424242424242')).toBe(true);
    expect(isValidCardNumber('4000000000000002')).toBe(true);
    expect(isValidCardNumber('4242424242424241')).toBe(false);
    expect(isValidCardNumber('42424242')).toBe(false);
  });
});

describe('configuration of the stock switch', () => {
  const base = { NODE_ENV: 'test' };
  it('leaves stock local, needing nothing else, when no products service is set', () => {
    const config = loadConfig(base);
    expect(config.PRODUCTS_SERVICE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('needs REDIS_URL with a products service, and an http(s) URL', () => {
    expect(() => loadConfig({ ...base, PRODUCTS_SERVICE_URL: 'http://127.0.0.1:3002' })).toThrow(
      /REDIS_URL must be set with PRODUCTS_SERVICE_URL/,
    );
    expect(() => loadConfig({ ...base, PRODUCTS_SERVICE_URL: 'ftp://x', REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      /PRODUCTS_SERVICE_URL must be an http\(s\) URL/,
    );
    expect(
      loadConfig({ ...base, PRODUCTS_SERVICE_URL: 'http://127.0.0.1:3002', REDIS_URL: 'redis://127.0.0.1:6379' })
        .INVENTORY_TIMEOUT_MS,
    ).toBe(2000);
  });

  it('refuses the development inventory token in production', () => {
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'a-real-secret-of-our-own',
        PRODUCTS_SERVICE_URL: 'http://127.0.0.1:3002',
        REDIS_URL: 'redis://127.0.0.1:6379',
      }),
    ).toThrow(/INVENTORY_API_TOKEN must be set/);
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'a-real-secret-of-our-own',
        INVENTORY_API_TOKEN: DEVELOPMENT_INTERNAL_API_TOKEN,
      }),
    ).toThrow(/INVENTORY_API_TOKEN is the development default/);
  });

  it('needs no inventory token in production while stock stays local', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-real-secret-of-our-own' }).INVENTORY_API_TOKEN).toBe('');
  });

  it('refuses the development JWT secret in production, missing or set explicitly', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET must be set in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toThrow(
      /JWT_SECRET is the development default/,
    );
  });
});
