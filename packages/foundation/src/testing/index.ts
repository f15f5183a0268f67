export {
  cloneDatabase,
  dropOtherTemplates,
  dropStaleTestDatabases,
  ensureTemplate,
  type TestDatabase,
} from './databases.ts';
export { resolveTestServers, type TestServers } from './servers.ts';
export { freshDatabase, testServerUrls } from './vitest.ts';
