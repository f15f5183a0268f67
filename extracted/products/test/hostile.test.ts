import { describeHostileHttp, describeHostileProductText } from '@strangler/foundation/testing';
import { afterAll, beforeAll } from 'vitest';
import { type Started, startProductsService } from './helpers.ts';

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
