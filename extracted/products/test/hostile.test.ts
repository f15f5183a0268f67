import {
  client,
  describeHostileHttp,
  describeHostileProductText,
  errorCode,
  HOSTILE_TEXT,
} from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, INTERNAL_TOKEN, type Started, startProductsService } from './helpers.ts';

/**
 * The products service under hostile input (the shared list of packages/foundation/src/testing/hostile.ts),
 * over real sockets: the same answers as ShopCo, and it keeps serving.
 */

let service: Started;

beforeAll(async () => {
  service = await startProductsService();
});
afterAll(() => service?.close());

const url = () => service.url;

describeHostileHttp('the products service', {
  url,
  jsonRoute: '/api/products',
  alive: { path: '/api/products/search', status: 200 },
  bodyLimit: 1024 * 1024,
  idRoutes: ['/api/products/:id'],
});
describeHostileProductText('the products service', url);

describe('the products service: hostile keys on the internal inventory API', () => {
  it.each(HOSTILE_TEXT.map((t) => [t.name, t] as const))(
    'refuses %s as a reservation key with 400, and reserves nothing',
    async (_name, { text }) => {
      const call = client(service.url);
      const product = await createProduct(call, { stock: 5 });
      const auth = { authorization: `Bearer ${INTERNAL_TOKEN}` };
      const reserve = await call('POST', '/internal/inventory/reservations', {
        headers: auth,
        body: { key: text, items: [{ productId: product.id, quantity: 1 }] },
      });
      expect({ status: reserve.status, code: errorCode(reserve) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      if (text.isWellFormed()) {
        const read = await call('GET', `/internal/inventory/reservations/${encodeURIComponent(text)}`, {
          headers: auth,
        });
        expect({ status: read.status, code: errorCode(read) }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      }
      expect((await call<{ stock: number }>('GET', `/api/products/${product.id}`)).body.stock).toBe(5);
    },
  );
});
