import {
  describeHostileHttp,
  describeHostileProductText,
  describeHostileUserText,
} from '@strangler/foundation/testing';
import { afterAll, beforeAll } from 'vitest';
import { type ShopCo, startShopCo } from './helpers.ts';

/**
 * ShopCo under hostile input (the shared list of packages/foundation/src/testing/hostile.ts),
 * over real sockets: every attack gets a clear 4xx or is handled, and ShopCo keeps answering.
 */

let shop: ShopCo;

beforeAll(async () => {
  shop = await startShopCo();
});
afterAll(() => shop?.close());

const url = () => shop.url;

describeHostileHttp('ShopCo', {
  url,
  jsonRoute: '/api/products',
  alive: { path: '/api/products/search', status: 200 },
  bodyLimit: 1024 * 1024,
});
describeHostileUserText('ShopCo', url);
describeHostileProductText('ShopCo', url);
