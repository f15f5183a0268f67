export {
  acquireTestLock,
  cloneDatabase,
  dropOtherTemplates,
  dropStaleTestDatabases,
  ensureTemplate,
  type TestDatabase,
} from './databases.ts';
export {
  BODY_CASES,
  type BodyCase,
  deeplyNested,
  errorOf,
  FRAMING_CASES,
  type FramingCase,
  type FramingTarget,
  HOSTILE_TEXT,
  type HostileText,
  manyHeadersRequest,
  oversizedBody,
  oversizedHeaderRequest,
  PATH_TRICKS,
  type PathTrick,
  type RawExchange,
  type RawResponse,
  rawRequest,
  type SendRawOptions,
  sendRaw,
} from './hostile.ts';
export {
  describeHostileHttp,
  describeHostileProductText,
  describeHostileUserText,
  expectError,
  type HostileTarget,
} from './hostile-suite.ts';
export { type Call, type CallOptions, client, errorCode, type JsonResponse, signUp } from './http-client.ts';
export { freePort } from './ports.ts';
export { resolveTestServers, type TestServers } from './servers.ts';
export { freshDatabase, lockFlags, type StartedApp, startOnFreshDatabase, testServerUrls } from './vitest.ts';
