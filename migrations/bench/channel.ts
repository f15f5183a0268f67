import { usersForward } from '../src/contexts/users.ts';
import { type SyncChannel, validateChannel } from '../src/sync/channel.ts';

/** Where the benchmark's scratch databases and queue are. */
export interface BenchUrls {
  sourceUrl: string;
  targetUrl: string;
  redisUrl: string;
  /** BullMQ key prefix, `bench-<pid>`: nothing is shared with a real sync on the same Redis. */
  queuePrefix: string;
}

/**
 * The users context's forward channel, built as `contextRegistry` builds it
 * (migrations/src/stages/contexts.ts): the same name, direction and mapping,
 * pointed at the scratch databases and a queue prefix of the benchmark's own.
 */
export function benchChannel(urls: BenchUrls): SyncChannel {
  return validateChannel({
    name: 'users-forward',
    direction: 'forward',
    sourceUrl: urls.sourceUrl,
    targetUrl: urls.targetUrl,
    redisUrl: urls.redisUrl,
    mappings: [usersForward],
    queuePrefix: urls.queuePrefix,
  });
}
