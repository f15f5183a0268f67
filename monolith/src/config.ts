import {
  ConfigError,
  type ConfigOf,
  DEFAULT_FENCE_PREFIX,
  DEVELOPMENT_INTERNAL_API_TOKEN,
  DEVELOPMENT_JWT_SECRET,
  type Env,
  int,
  oneOf,
  optionalStr,
  readConfig,
  secret,
  str,
  url,
} from '@strangler/foundation';

/** The only place ShopCo reads the environment. */
const schema = {
  NODE_ENV: oneOf(['development', 'test', 'production'], { default: 'development' }),
  HOST: str({ default: '127.0.0.1' }),
  PORT: int({ default: 3000, min: 0, max: 65535 }),
  DATABASE_URL: url({
    default: 'postgres://postgres@127.0.0.1:5432/shopco',
    protocols: ['postgres', 'postgresql'],
    doc: 'the monolith database',
  }),
  DATABASE_POOL_MAX: int({ default: 10, min: 1, max: 200 }),
  JWT_SECRET: secret({
    development: DEVELOPMENT_JWT_SECRET,
    doc: 'HS256 key shared with every service that accepts ShopCo tokens',
  }),
  JWT_TTL_SECONDS: int({ default: 24 * 3600, min: 60 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  BODY_LIMIT_BYTES: int({ default: 1024 * 1024, min: 1024 }),

  // Only while the products context is being extracted (ADR 0013). Unset,
  // ShopCo keeps stock itself, needs no Redis and no Unleash, and runs alone.
  /** The products service; set, orders follow the products write owner for stock. */
  PRODUCTS_SERVICE_URL: optionalStr(),
  /** The products service's INTERNAL_API_TOKEN. */
  INVENTORY_API_TOKEN: secret({
    development: DEVELOPMENT_INTERNAL_API_TOKEN,
    doc: "the products service's INTERNAL_API_TOKEN",
    optionalInProduction: true,
  }),
  /** Per call to the inventory API; a call is tried up to 3 times (every call is idempotent). */
  INVENTORY_TIMEOUT_MS: int({ default: 2_000, min: 50, max: 60_000 }),
  /** The write fence (as the routers'): required with PRODUCTS_SERVICE_URL. */
  REDIS_URL: optionalStr(),
  FENCE_KEY_PREFIX: str({ default: DEFAULT_FENCE_PREFIX }),
  /** Longest a stock change waits for a products cutover before it is refused with a 503. */
  STOCK_HOLD_MAX_MS: int({ default: 5_000, min: 100, max: 60_000 }),
};

export type MonolithConfig = ConfigOf<typeof schema>;

export function loadConfig(env: Env): MonolithConfig {
  const config = readConfig(schema, env);
  const problems: string[] = [];
  if (config.PRODUCTS_SERVICE_URL !== undefined) {
    if (!/^https?:\/\/[^/\s]+/.test(config.PRODUCTS_SERVICE_URL)) {
      problems.push(`PRODUCTS_SERVICE_URL must be an http(s) URL, got "${config.PRODUCTS_SERVICE_URL}"`);
    }
    if (config.REDIS_URL === undefined) {
      problems.push(
        'REDIS_URL must be set with PRODUCTS_SERVICE_URL: ShopCo joins the write fence so a products cutover can hold its stock changes',
      );
    }
    if (config.INVENTORY_API_TOKEN === '') {
      problems.push(
        "INVENTORY_API_TOKEN must be set with PRODUCTS_SERVICE_URL in production: the products service's INTERNAL_API_TOKEN",
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Config for tests and embedding: defaults plus what the caller overrides. */
export function testConfig(overrides: Env): MonolithConfig {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides });
}
