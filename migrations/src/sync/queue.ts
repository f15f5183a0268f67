import { createRedis, type Redis } from '@strangler/foundation';
import { type JobsOptions, Queue } from 'bullmq';
import { queueNameOf, queuePrefixOf, type SyncChannel } from './channel.ts';
import type { OutboxOp } from './outbox.ts';

/**
 * The contract between the relay (producer) and the applier (consumer): one
 * BullMQ queue per channel, one job per outbox row, identified by the outbox id.
 */

export interface ApplyJobData {
  table: string;
  key: string;
  op: OutboxOp;
  outboxId: number;
}

export interface ApplyJobOptions {
  /** Tries before a row is dead-lettered. */
  attempts?: number;
  /** First retry delay; doubles each time. */
  backoffMs?: number;
  /**
   * Completed jobs BullMQ keeps. A job id deduplicates only while its job is
   * kept; after that a re-added row runs again, which read-through apply makes
   * harmless, only wasted work.
   */
  keepCompleted?: { age: number; count: number };
}

export const DEFAULT_APPLY_JOB_OPTIONS = {
  attempts: 5,
  backoffMs: 200,
  keepCompleted: { age: 3600, count: 50_000 },
} satisfies Required<ApplyJobOptions>;

export function bullJobOptions(opts: ApplyJobOptions = {}): JobsOptions {
  const o = { ...DEFAULT_APPLY_JOB_OPTIONS, ...opts };
  return {
    attempts: o.attempts,
    backoff: { type: 'exponential', delay: o.backoffMs },
    removeOnComplete: o.keepCompleted,
    // The dead-letter list in Postgres keeps the reason; a failed job kept in
    // Redis would only block its id from being relayed again.
    removeOnFail: true,
  };
}

/** The channel's queue on a Redis connection the caller owns (and closes after `queue.close()`). */
export function openSyncQueue(channel: SyncChannel, connection: Redis): Queue<ApplyJobData> {
  return new Queue<ApplyJobData>(queueNameOf(channel), { connection, prefix: queuePrefixOf(channel) });
}

/**
 * A Redis connection for a producer: commands fail after a couple of
 * reconnect attempts instead of waiting, so the relay's transaction rolls back
 * and it retries later rather than holding outbox locks while Redis is away.
 */
export function producerRedis(channel: SyncChannel, role: string): Redis {
  return createRedis({ url: channel.redisUrl, role: 'client', connectionName: `strangler-${role}-${channel.name}` });
}
