import { DEVELOPMENT_UNLEASH_CLIENT_TOKEN } from '@strangler/flags';
import {
  ConfigError,
  type ConfigOf,
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

/** The only place the router reads the environment. */
const schema = {
  NODE_ENV: oneOf(['development', 'test', 'production'], { default: 'development' }),
  HOST: str({ default: '127.0.0.1' }),
  PORT: int({ default: 8080, min: 0, max: 65535 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  MONOLITH_URL: url({ default: 'http://127.0.0.1:3000', protocols: ['http', 'https'] }),
  USERS_SERVICE_URL: optionalStr(),
  PRODUCTS_SERVICE_URL: optionalStr(),
  /** The monolith is the safe side: give it time. */
  MONOLITH_TIMEOUT_MS: int({ default: 10_000, min: 50 }),
  /** A service read that is slower than this is answered by the monolith instead. */
  SERVICE_TIMEOUT_MS: int({ default: 2_000, min: 50 }),
  UPSTREAM_CONNECTIONS: int({ default: 64, min: 1, max: 4096 }),
  BREAKER_FAILURES: int({ default: 5, min: 1 }),
  BREAKER_COOLDOWN_MS: int({ default: 5_000, min: 100 }),
  BODY_LIMIT_BYTES: int({ default: 1024 * 1024, min: 1024 }),
  MAX_RESPONSE_BYTES: int({ default: 8 * 1024 * 1024, min: 1024 }),
  SHADOW_MAX_IN_FLIGHT: int({ default: 32, min: 0 }),
  JWT_SECRET: secret({ development: DEVELOPMENT_JWT_SECRET, doc: 'the key ShopCo signs tokens with' }),
  /** Bearer token for /_strangler/api; unset means the admin API is off. */
  ADMIN_TOKEN: optionalStr(),
  UNLEASH_URL: url({ default: 'http://127.0.0.1:4242', protocols: ['http', 'https'] }),
  UNLEASH_CLIENT_TOKEN: secret({
    development: DEVELOPMENT_UNLEASH_CLIENT_TOKEN,
    doc: 'a backend API token of Unleash for project default, environment development',
  }),
  FLAG_REFRESH_MS: int({ default: 1_000, min: 100 }),
  FLAG_BACKUP_PATH: optionalStr(),
  /** Where routers share traffic and shadow counts (for the stage gates); unset: counted per process only. */
  REDIS_URL: optionalStr(),
  /** Key prefix of those counts, for deployments (or test runs) that share one Redis. */
  TRAFFIC_KEY_PREFIX: str({ default: 'strangler:traffic' }),
  /**
   * After a write to a context whose reads are partly served by the other
   * side, the client's reads of that context go to the write owner for this
   * long (a cookie), so it reads its own write; 0 turns it off.
   */
  READ_YOUR_WRITES_SECONDS: int({ default: 5, min: 0, max: 3600 }),
  /** With REDIS_URL: the write fence of the cutover (docs/adr/0012); its Redis key prefix. */
  FENCE_KEY_PREFIX: str({ default: 'strangler:fence' }),
  /** Longest a write waits while a cutover holds its context's writes; then a 503 ROUTER_WRITES_HELD. */
  WRITE_HOLD_MAX_MS: int({ default: 5_000, min: 100, max: 60_000 }),
  /**
   * A write that timed out may still commit upstream: for the fence it stays
   * in flight this much longer, so a cutover cannot drain before it lands.
   */
  WRITE_TIMEOUT_GRACE_MS: int({ default: 10_000, min: 0, max: 600_000 }),
};

export type RouterConfig = ConfigOf<typeof schema>;

export function loadConfig(env: Env): RouterConfig {
  const config = readConfig(schema, env);
  const problems: string[] = [];
  for (const name of ['USERS_SERVICE_URL', 'PRODUCTS_SERVICE_URL'] as const) {
    const value = config[name];
    if (value !== undefined && !/^https?:\/\/[^/]+/.test(value)) problems.push(`${name} must be an http(s) URL`);
  }
  if (config.ADMIN_TOKEN !== undefined && config.ADMIN_TOKEN.length < 16) {
    problems.push('ADMIN_TOKEN must be at least 16 characters (or unset, which turns the admin API off)');
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}

export function testConfig(overrides: Env): RouterConfig {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides });
}
