export {
  acquireTestLock,
  cloneDatabase,
  dropOtherTemplates,
  dropStaleTestDatabases,
  ensureTemplate,
  type TestDatabase,
} from './databases.ts';
export { type Call, type CallOptions, client, errorCode, type JsonResponse, signUp } from './http-client.ts';
export { freePort } from './ports.ts';
export { resolveTestServers, type TestServers } from './servers.ts';
export { freshDatabase, lockFlags, type StartedApp, startOnFreshDatabase, testServerUrls } from './vitest.ts';
