import { productsForward, productsReverse } from '../contexts/products.ts';
import { usersForward, usersReverse } from '../contexts/users.ts';
import type { DatabaseKind } from '../migrator.ts';
import { reverseChannel, type SyncChannel, type SyncMapping, validateChannel } from '../sync/channel.ts';
import { STAGES, type Stage } from './stages.ts';

/**
 * The bounded contexts the stage machine knows, and how each one's data
 * moves: a forward channel (monolith → service, from `sync` to `reads`) and a
 * reverse one (service → monolith, from `writes` on). Adding a context is
 * this: its mappings (`../contexts/`), its service's schema (migrator.ts) and
 * an entry here; the engine and the stage machine are the same for all.
 */

export const CONTEXT_NAMES = ['users', 'products'] as const;
export type ContextName = (typeof CONTEXT_NAMES)[number];

export interface ContextChannels {
  forward: SyncChannel;
  reverse: SyncChannel;
}

export interface ContextDefinition {
  name: ContextName;
  channels: ContextChannels;
  /** The migrations (migrator.ts) of the service's database, applied before the first backfill. */
  serviceSchema: DatabaseKind;
}

/** Where the databases and the queues are; from the CLI's config. */
export interface ContextUrls {
  monolithUrl: string;
  usersUrl: string;
  productsUrl: string;
  redisUrl: string;
  queuePrefix?: string;
}

export function isContextName(value: string): value is ContextName {
  return (CONTEXT_NAMES as readonly string[]).includes(value);
}

export function contextRegistry(urls: ContextUrls): Readonly<Record<ContextName, ContextDefinition>> {
  const extraction = (
    name: ContextName,
    serviceUrl: string,
    forward: SyncMapping,
    reverse: SyncMapping,
  ): ContextDefinition => {
    const forwardChannel = validateChannel({
      name: `${name}-forward`,
      direction: 'forward',
      sourceUrl: urls.monolithUrl,
      targetUrl: serviceUrl,
      redisUrl: urls.redisUrl,
      mappings: [forward],
      ...(urls.queuePrefix ? { queuePrefix: urls.queuePrefix } : {}),
    });
    return {
      name,
      serviceSchema: name,
      channels: {
        forward: forwardChannel,
        reverse: reverseChannel(forwardChannel, { name: `${name}-reverse`, mappings: [reverse] }),
      },
    };
  };
  return {
    users: extraction('users', urls.usersUrl, usersForward, usersReverse),
    products: extraction('products', urls.productsUrl, productsForward, productsReverse),
  };
}

const WRITES_INDEX = STAGES.indexOf('writes');

/**
 * The direction data flows in a stage (ADR 0001's "data flow"
 * column): none at legacy, forward until the service owns the writes,
 * reverse from then on.
 */
export function channelDirectionFor(stage: Stage): 'forward' | 'reverse' | null {
  if (stage === 'legacy') return null;
  return STAGES.indexOf(stage) >= WRITES_INDEX ? 'reverse' : 'forward';
}

/**
 * The channel whose drift and lag the gates and `status` read in a stage.
 * At legacy that is the forward one: the first move starts it.
 */
export function measuredChannel(channels: ContextChannels, stage: Stage): SyncChannel {
  return channelDirectionFor(stage) === 'reverse' ? channels.reverse : channels.forward;
}
