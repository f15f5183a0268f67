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
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    enableOfflineQueue: role === 'worker',
    lazyConnect: false,
    ...(connectionName ? { connectionName } : {}),
  };
  return new Redis(url, options);
}

export type { Redis };
