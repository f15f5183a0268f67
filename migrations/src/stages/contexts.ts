import { usersForward, usersReverse } from '../contexts/users.ts';
import type { DatabaseKind } from '../migrator.ts';
import { reverseChannel, type SyncChannel, validateChannel } from '../sync/channel.ts';
import { STAGES, type Stage } from './stages.ts';

/**
 * The bounded contexts the stage machine knows, and how each one's data
 * moves: a forward channel (monolith → service, from `sync` to `reads`) and a
 * reverse one (service → monolith, from `writes` on). A context without an
 * extraction is listed so `status` can show it, and every move refuses it.
 */

export const CONTEXT_NAMES = ['users', 'products'] as const;
export type ContextName = (typeof CONTEXT_NAMES)[number];

export interface ContextChannels {
  forward: SyncChannel;
  reverse: SyncChannel;
}

export interface ContextDefinition {
  name: ContextName;
  /** Null: no extraction configured yet. */
  channels: ContextChannels | null;
  /** The migrations (migrator.ts) of the service's database, applied before the first backfill. */
  serviceSchema: DatabaseKind | null;
}

/** Where the databases and the queues are; from the CLI's config. */
export interface ContextUrls {
  monolithUrl: string;
  usersUrl: string;
  redisUrl: string;
  queuePrefix?: string;
}

export function isContextName(value: string): value is ContextName {
  return (CONTEXT_NAMES as readonly string[]).includes(value);
}

export function contextRegistry(urls: ContextUrls): Readonly<Record<ContextName, ContextDefinition>> {
  const usersForwardChannel = validateChannel({
    name: 'users-forward',
    direction: 'forward',
    sourceUrl: urls.monolithUrl,
    targetUrl: urls.usersUrl,
    redisUrl: urls.redisUrl,
    mappings: [usersForward],
    ...(urls.queuePrefix ? { queuePrefix: urls.queuePrefix } : {}),
  });
  return {
    users: {
      name: 'users',
      serviceSchema: 'users',
      channels: {
        forward: usersForwardChannel,
        reverse: reverseChannel(usersForwardChannel, { name: 'users-reverse', mappings: [usersReverse] }),
      },
    },
    products: { name: 'products', channels: null, serviceSchema: null },
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
