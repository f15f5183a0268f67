import {
  type ConfigOf,
  DEVELOPMENT_JWT_SECRET,
  type Env,
  int,
  oneOf,
  readConfig,
  secret,
  str,
  url,
} from '@strangler/foundation';

/** The only place the users service reads the environment. */
const schema = {
  NODE_ENV: oneOf(['development', 'test', 'production'], { default: 'development' }),
  HOST: str({ default: '127.0.0.1' }),
  PORT: int({ default: 3001, min: 0, max: 65535 }),
  DATABASE_URL: url({
    default: 'postgres://postgres@127.0.0.1:5432/shopco_users',
    protocols: ['postgres', 'postgresql'],
    doc: "the users service's own database, never the monolith's",
  }),
  DATABASE_POOL_MAX: int({ default: 10, min: 1, max: 200 }),
  // Must equal the monolith's: that is what makes each side accept the other's tokens.
  JWT_SECRET: secret({ development: DEVELOPMENT_JWT_SECRET, doc: 'HS256 key shared with ShopCo' }),
  JWT_TTL_SECONDS: int({ default: 24 * 3600, min: 60 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  BODY_LIMIT_BYTES: int({ default: 1024 * 1024, min: 1024 }),
};

export type UsersServiceConfig = ConfigOf<typeof schema>;

export function loadConfig(env: Env): UsersServiceConfig {
  return readConfig(schema, env);
}

/** Config for tests and embedding: defaults plus what the caller overrides. */
export function testConfig(overrides: Env): UsersServiceConfig {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides });
}
