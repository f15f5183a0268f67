import { Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  url: string;
  /**
   * BullMQ workers block on Redis and must not give up on a command while the
   * connection is being re-established, so they need `maxRetriesPerRequest: null`.
   * Request handlers prefer to fail fast instead.
   */
  role: 'worker' | 'client';
  connectionName?: string;
}

export function createRedis({ url, role, connectionName }: RedisConnectionOptions): Redis {
  const options: RedisOptions = {
    // Commands sent before the connection is up wait in the offline queue; a
    // client's command gives up after two reconnect attempts, a worker's never.
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    connectTimeout: 5_000,
    ...(connectionName ? { connectionName } : {}),
  };
  return new Redis(url, options);
}

export type { Redis };
