import { type FlagsConfig, loadFlagsConfig } from '@strangler/flags';
import { type ConfigOf, type Env, int, num, oneOf, optionalStr, readConfig, str, url } from '@strangler/foundation';
import { DEFAULT_POLICY, type GatePolicy } from '../../stages/gates.ts';
import { DEFAULT_GUARD_POLICY } from '../../stages/guard.ts';

const postgres = (database: string, doc: string) =>
  url({ default: `postgres://postgres@127.0.0.1:5432/${database}`, protocols: ['postgres', 'postgresql'], doc });

const schema = {
  STRANGLER_DATABASE_URL: postgres('strangler', "the toolkit's own database: stages, history, reconcile runs"),
  DATABASE_URL: postgres('shopco', "the monolith's database"),
  USERS_DATABASE_URL: postgres('shopco_users', "the users service's database"),
  PRODUCTS_DATABASE_URL: postgres('shopco_products', "the products service's database"),
  REDIS_URL: url({ default: 'redis://127.0.0.1:6379', protocols: ['redis', 'rediss'] }),
  /** Where the routers share their traffic counts (edge-router's TRAFFIC_KEY_PREFIX). */
  TRAFFIC_KEY_PREFIX: str({ default: 'strangler:traffic' }),
  /** BullMQ key prefix of the sync queues; the relay and the workers must agree on it. */
  SYNC_QUEUE_PREFIX: str({ default: 'strangler' }),
  /** The traffic window the gates and status read. Buckets live an hour, so at most 3600. */
  GATE_WINDOW_SECONDS: int({ default: 300, min: 10, max: 3600 }),
  /** The routers' write fence (edge-router's FENCE_KEY_PREFIX). */
  FENCE_KEY_PREFIX: str({ default: 'strangler:fence' }),
  /** The write cutover's whole hold; keep it under the routers' WRITE_HOLD_MAX_MS (5000). */
  CUTOVER_HOLD_MS: int({ default: 4_000, min: 200, max: 60_000 }),
  /** Of the hold, the longest the drain may take before the cutover aborts. */
  CUTOVER_DRAIN_MS: int({ default: 2_000, min: 100, max: 60_000 }),
  /** The cutover refuses to start (and hold anything) when the sync to drain is further behind than this. */
  CUTOVER_MAX_LAG_SECONDS: num({ default: 2, min: 0 }),
  /** The gates' policy (migrations/src/stages/gates.ts); the defaults suit a production rollout. */
  GATE_MAX_LAG_SECONDS: num({ default: DEFAULT_POLICY.maxLagSeconds, min: 0 }),
  GATE_MIN_CONSISTENCY: num({ default: DEFAULT_POLICY.minConsistency, min: 0, max: 1 }),
  GATE_MIN_SHADOW_SAMPLES: int({ default: DEFAULT_POLICY.minShadowSamples, min: 1 }),
  GATE_ERROR_RATE_MARGIN: num({ default: DEFAULT_POLICY.errorRateMargin, min: 0, max: 1 }),
  GATE_P99_MARGIN_MS: num({ default: DEFAULT_POLICY.p99MarginMs, min: 0 }),
  GATE_MIN_REQUESTS: int({ default: DEFAULT_POLICY.minRequests, min: 1 }),
  /** The guarded rollout's policy (migrations/src/stages/guard.ts, docs/adr/0015). */
  GUARD_WINDOW_SECONDS: int({ default: DEFAULT_GUARD_POLICY.windowSeconds, min: 10, max: 3600 }),
  GUARD_MIN_REQUESTS: int({ default: DEFAULT_GUARD_POLICY.minRequests, min: 1 }),
  GUARD_ERROR_RATE_MARGIN: num({ default: DEFAULT_GUARD_POLICY.errorRateMargin, min: 0, max: 1 }),
  GUARD_P99_MARGIN_MS: num({ default: DEFAULT_GUARD_POLICY.p99MarginMs, min: 0 }),
  GUARD_SETBACK: oneOf(['previous', 'zero'], { default: DEFAULT_GUARD_POLICY.setback }),
  /** Who made a move, when --actor is not given. */
  USER: optionalStr(),
};

export type StranglerConfig = ConfigOf<typeof schema> & {
  flags: Pick<FlagsConfig, 'UNLEASH_URL' | 'UNLEASH_ADMIN_TOKEN'>;
};

/** The only place `pnpm strangler` and `pnpm sync:worker` read the environment. */
export function loadStranglerConfig(env: Env): StranglerConfig {
  const flags = loadFlagsConfig(env);
  return Object.freeze({
    ...readConfig(schema, env),
    flags: { UNLEASH_URL: flags.UNLEASH_URL, UNLEASH_ADMIN_TOKEN: flags.UNLEASH_ADMIN_TOKEN },
  });
}

export function gatePolicyOf(config: StranglerConfig): GatePolicy {
  return {
    maxLagSeconds: config.GATE_MAX_LAG_SECONDS,
    minConsistency: config.GATE_MIN_CONSISTENCY,
    minShadowSamples: config.GATE_MIN_SHADOW_SAMPLES,
    errorRateMargin: config.GATE_ERROR_RATE_MARGIN,
    p99MarginMs: config.GATE_P99_MARGIN_MS,
    minRequests: config.GATE_MIN_REQUESTS,
  };
}
