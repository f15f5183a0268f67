import { type ContextName, contextRegistry } from '../src/stages/contexts.ts';
import type { SyncChannel } from '../src/sync/channel.ts';

/** Where the benchmark's scratch databases and queue are. */
export interface BenchUrls {
  sourceUrl: string;
  targetUrl: string;
  redisUrl: string;
  /** BullMQ key prefix, `bench-<pid>`: nothing is shared with a real sync on the same Redis. */
  queuePrefix: string;
}

/**
 * A context's forward channel as `contextRegistry` builds it
 * (migrations/src/stages/contexts.ts), taken from the registry itself so the
 * name, direction and mapping cannot drift from what the stage machine runs;
 * only the databases (the scratch pair) and the queue prefix are the
 * benchmark's own.
 */
export function benchChannel(context: ContextName, urls: BenchUrls): SyncChannel {
  const registry = contextRegistry({
    monolithUrl: urls.sourceUrl,
    // Only `context`'s channel is used; every service URL points at its scratch target.
    usersUrl: urls.targetUrl,
    productsUrl: urls.targetUrl,
    redisUrl: urls.redisUrl,
    queuePrefix: urls.queuePrefix,
  });
  return registry[context].channels.forward;
}
