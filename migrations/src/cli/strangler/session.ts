import { UnleashAdminApi } from '@strangler/flags';
import { createRedis, FenceCoordinator, type Knex, type Redis } from '@strangler/foundation';
import knexFactory from 'knex';
import { migrateLatest } from '../../migrator.ts';
import { type ContextDefinition, type ContextName, contextRegistry } from '../../stages/contexts.ts';
import { describeFailure } from '../../stages/measured.ts';
import { ReconcileRunStore } from '../../stages/reconcile-runs.ts';
import { StageStore } from '../../stages/store.ts';
import type { SyncChannel } from '../../sync/channel.ts';
import type { SyncDatabases } from '../../sync/databases.ts';
import type { StranglerConfig } from './config.ts';

/**
 * The connections one command uses, opened on first use and closed together
 * at the end, so `status` touches only what it reads and a server that is
 * away fails only the fields that need it.
 */

/**
 * A knex like foundation's createKnex, minus knex's own "Acquire connection
 * error" warning with its stack trace: the command reports that failure
 * itself, as one line ("unavailable: <why>").
 */
function cliKnex(url: string, poolMax: number): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'strangler-cli', connectionTimeoutMillis: 5_000 },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 5_000,
    log: {
      warn: (message: string) => {
        if (!String(message).startsWith('Acquire connection error')) process.stderr.write(`knex: ${message}\n`);
      },
    },
  });
}

export interface Control {
  /** The control database itself: moves take their lock on it (stages/move-lock.ts). */
  db: Knex;
  stages: StageStore;
  runs: ReconcileRunStore;
}

export class Session {
  readonly config: StranglerConfig;
  readonly contexts: Readonly<Record<ContextName, ContextDefinition>>;
  #control: Promise<Control> | undefined;
  #controlKnex: Knex | undefined;
  #redis: Redis | undefined;
  #redisError: string | undefined;
  #unleash: UnleashAdminApi | undefined;
  readonly #syncDbs = new Map<string, SyncDatabases>();

  constructor(config: StranglerConfig) {
    this.config = config;
    this.contexts = contextRegistry({
      monolithUrl: config.DATABASE_URL,
      usersUrl: config.USERS_DATABASE_URL,
      productsUrl: config.PRODUCTS_DATABASE_URL,
      redisUrl: config.REDIS_URL,
      queuePrefix: config.SYNC_QUEUE_PREFIX,
    });
  }

  /** The control database's stores; the database is created and migrated on first use. */
  control(): Promise<Control> {
    this.#control ??= (async () => {
      await migrateLatest('control', this.config.STRANGLER_DATABASE_URL);
      // Four: a move holds one for its lock while it measures and records on the others.
      this.#controlKnex = cliKnex(this.config.STRANGLER_DATABASE_URL, 4);
      return {
        db: this.#controlKnex,
        stages: new StageStore(this.#controlKnex),
        runs: new ReconcileRunStore(this.#controlKnex),
      };
    })();
    return this.#control;
  }

  unleash(): UnleashAdminApi {
    this.#unleash ??= new UnleashAdminApi({
      url: this.config.flags.UNLEASH_URL,
      token: this.config.flags.UNLEASH_ADMIN_TOKEN,
    });
    return this.#unleash;
  }

  redis(): Redis {
    if (!this.#redis) {
      this.#redis = createRedis({ url: this.config.REDIS_URL, role: 'client', connectionName: 'strangler-cli' });
      // Failures surface on the commands; without a listener ioredis would also print each one.
      this.#redis.on('error', (err: Error) => {
        this.#redisError = describeFailure(err);
      });
    }
    return this.#redis;
  }

  /** The routers' write fence, for the write cutover. */
  fence(): FenceCoordinator {
    return new FenceCoordinator(this.redis(), { prefix: this.config.FENCE_KEY_PREFIX });
  }

  /** Why Redis cannot be reached, as the connection last said; undefined when it never failed. */
  redisProblem(): string | undefined {
    return this.#redisError;
  }

  /** Source and target of a channel; one pair per pair of databases. */
  syncDb(channel: SyncChannel): SyncDatabases {
    const key = `${channel.sourceUrl} ${channel.targetUrl}`;
    let db = this.#syncDbs.get(key);
    if (!db) {
      // Six: the backfill writes four batches at once and reads keys beside them.
      const source = cliKnex(channel.sourceUrl, 6);
      const target = cliKnex(channel.targetUrl, 6);
      db = {
        source,
        target,
        close: async () => {
          await Promise.all([source.destroy(), target.destroy()]);
        },
      };
      this.#syncDbs.set(key, db);
    }
    return db;
  }

  async close(): Promise<void> {
    this.#redis?.disconnect();
    await Promise.allSettled([this.#controlKnex?.destroy(), ...[...this.#syncDbs.values()].map((db) => db.close())]);
  }
}
