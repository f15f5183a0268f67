import {
  ConfigError,
  type ConfigOf,
  DEVELOPMENT_INTERNAL_API_TOKEN,
  type Env,
  int,
  oneOf,
  readConfig,
  secret,
  str,
  url,
} from '@strangler/foundation';

/**
 * The token the internal inventory API accepts when none is configured
 * (foundation's, ShopCo's INVENTORY_API_TOKEN default too). It only exists so
 * a developer can run the service and the monolith side by side without
 * setting anything; production refuses to start with it.
 */
export { DEVELOPMENT_INTERNAL_API_TOKEN };

// The characters foundation's `bearerToken` accepts in a header: a token made
// of anything else could never be presented, so it is refused at start.
const TOKEN_TEXT = /^[A-Za-z0-9._~+/=-]{16,512}$/;

/** The only place the products service reads the environment. */
const schema = {
  NODE_ENV: oneOf(['development', 'test', 'production'], { default: 'development' }),
  HOST: str({ default: '127.0.0.1' }),
  PORT: int({ default: 3002, min: 0, max: 65535 }),
  DATABASE_URL: url({
    default: 'postgres://postgres@127.0.0.1:5432/shopco_products',
    protocols: ['postgres', 'postgresql'],
    doc: "the products service's own database, never the monolith's",
  }),
  DATABASE_POOL_MAX: int({ default: 10, min: 1, max: 200 }),
  // The monolith sends it on every call to /internal/inventory; the public routes never need it.
  INTERNAL_API_TOKEN: secret({
    development: DEVELOPMENT_INTERNAL_API_TOKEN,
    doc: 'bearer token of the internal inventory API, shared with ShopCo',
  }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  BODY_LIMIT_BYTES: int({ default: 1024 * 1024, min: 1024 }),
};

export type ProductsServiceConfig = ConfigOf<typeof schema>;

export function loadConfig(env: Env): ProductsServiceConfig {
  const config = readConfig(schema, env);
  const problems: string[] = [];
  if (!TOKEN_TEXT.test(config.INTERNAL_API_TOKEN)) {
    problems.push('INTERNAL_API_TOKEN must be 16 to 512 characters of A-Z a-z 0-9 . _ ~ + / = -');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Config for tests and embedding: defaults plus what the caller overrides. */
export function testConfig(overrides: Env): ProductsServiceConfig {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides });
}
