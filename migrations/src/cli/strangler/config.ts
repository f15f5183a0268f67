import { type FlagsConfig, loadFlagsConfig } from '@strangler/flags';
import { type ConfigOf, type Env, int, optionalStr, readConfig, str, url } from '@strangler/foundation';

const postgres = (database: string, doc: string) =>
  url({ default: `postgres://postgres@127.0.0.1:5432/${database}`, protocols: ['postgres', 'postgresql'], doc });

const schema = {
  STRANGLER_DATABASE_URL: postgres('strangler', "the toolkit's own database: stages, history, reconcile runs"),
  DATABASE_URL: postgres('shopco', "the monolith's database"),
  USERS_DATABASE_URL: postgres('shopco_users', "the users service's database"),
  REDIS_URL: url({ default: 'redis://127.0.0.1:6379', protocols: ['redis', 'rediss'] }),
  /** Where the routers share their traffic counts (edge-router's TRAFFIC_KEY_PREFIX). */
  TRAFFIC_KEY_PREFIX: str({ default: 'strangler:traffic' }),
  /** BullMQ key prefix of the sync queues; the relay and the workers must agree on it. */
  SYNC_QUEUE_PREFIX: str({ default: 'strangler' }),
  /** The traffic window the gates and status read. Buckets live an hour, so at most 3600. */
  GATE_WINDOW_SECONDS: int({ default: 300, min: 10, max: 3600 }),
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
