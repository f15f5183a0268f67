import { describeHostileHttp, describeHostileUserText } from '@strangler/foundation/testing';
import { afterAll, beforeAll } from 'vitest';
import { type Started, startUsersService } from './helpers.ts';

/**
 * The users service under hostile input (the shared list of packages/foundation/src/testing/hostile.ts),
 * over real sockets: the same answers as ShopCo, and it keeps serving.
 */

let service: Started;

beforeAll(async () => {
  service = await startUsersService();
});
afterAll(() => service?.close());

const url = () => service.url;

describeHostileHttp('the users service', {
  url,
  jsonRoute: '/api/users/register',
  alive: { path: '/health', status: 200 },
  bodyLimit: 1024 * 1024,
  idRoutes: ['/api/users/:id'],
});
describeHostileUserText('the users service', url);
