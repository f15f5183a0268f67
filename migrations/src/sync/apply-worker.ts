import { createRedis, type Redis } from '@strangler/foundation';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { type ApplyOutcome, applyRow } from './apply.ts';
import { mappingForSourceTable, queueNameOf, queuePrefixOf, type SyncChannel, validateChannel } from './channel.ts';
import { openSyncDatabases, type SyncDatabases } from './databases.ts';
import { recordDeadLetter } from './dead-letters.ts';
import { PoisonRowError } from './errors.ts';
import { markApplied } from './outbox.ts';
import type { ApplyJobData } from './queue.ts';

/**
 * ApplyWorker: the BullMQ consumer of a channel's queue.
 *
 * Contract
 * - For each job { table, key, outboxId }: `applyRow` (read-through, one target
 *   transaction, not captured again), then marks the outbox row applied. Jobs
 *   may arrive twice, late or out of order; the result is the same.
 * - A transient failure is retried with exponential backoff (the job's
 *   `attempts`, set by the relay). When the last attempt fails, or at once for
 *   a poison row (the mapping throws), the row goes to the dead-letter list
 *   with the reason, and the job fails without blocking the ones behind it.
 * - If the dead letter itself cannot be written, the job fails and its outbox
 *   row stays relayed-but-unapplied: the relay's requeue sweep brings it back.
 */

export interface ApplyWorkerOptions {
  /** Jobs applied in parallel (per-row locks keep same-key jobs from racing). */
  concurrency?: number;
  /** Errors outside any one job (Redis connection, worker internals). */
  onError?: (err: unknown) => void;
}

export interface ApplyWorkerStats {
  /** Jobs that completed: rows upserted or deleted in the target. */
  applied: number;
  /** Failed attempts that will be retried. */
  retried: number;
  deadLettered: number;
}

export class ApplyWorker {
  readonly channel: SyncChannel;
  readonly #db: SyncDatabases;
  readonly #redis: Redis;
  readonly #worker: Worker<ApplyJobData, ApplyOutcome>;
  readonly #onError: (err: unknown) => void;
  readonly #stats: ApplyWorkerStats = { applied: 0, retried: 0, deadLettered: 0 };
  #running: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(channel: SyncChannel, opts: ApplyWorkerOptions = {}) {
    this.channel = validateChannel(channel);
    const concurrency = opts.concurrency ?? 4;
    this.#onError = opts.onError ?? ((err) => console.error(`[apply ${channel.name}]`, err));
    this.#db = openSyncDatabases(channel, {
      poolMax: concurrency + 1,
      applicationName: `strangler-apply-${channel.name}`,
    });
    // Workers block on Redis and must wait out a reconnect rather than fail a command.
    this.#redis = createRedis({
      url: channel.redisUrl,
      role: 'worker',
      connectionName: `strangler-apply-${channel.name}`,
    });
    this.#worker = new Worker<ApplyJobData, ApplyOutcome>(queueNameOf(channel), (job) => this.#process(job), {
      connection: this.#redis,
      prefix: queuePrefixOf(channel),
      concurrency,
      autorun: false,
    });
    this.#worker.on('error', (err) => this.#onError(err));
  }

  get stats(): Readonly<ApplyWorkerStats> {
    return { ...this.#stats };
  }

  /** Starts taking jobs; resolves once connected to Redis. */
  async start(): Promise<void> {
    if (this.#running) return;
    if (this.#closed) throw new Error('ApplyWorker: closed workers cannot be restarted; create a new one');
    this.#running = this.#worker.run().catch((err) => this.#onError(err));
    await this.#worker.waitUntilReady();
  }

  /** Lets the jobs in progress finish, then closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#worker.close();
      await this.#running;
      this.#redis.disconnect();
      await this.#db.close();
    })();
    return this.#closed;
  }

  async #process(job: Job<ApplyJobData, ApplyOutcome>): Promise<ApplyOutcome> {
    const { table, key, outboxId } = job.data;
    try {
      const mapping = mappingForSourceTable(this.channel, table);
      if (!mapping)
        throw new PoisonRowError(table, key, `channel "${this.channel.name}" has no mapping for "${table}"`);
      const outcome = await applyRow(this.#db, this.channel, mapping, key);
      await markApplied(this.#db.source, outboxId);
      this.#stats.applied++;
      return outcome;
    } catch (err) {
      const poison = err instanceof PoisonRowError;
      const attempt = job.attemptsMade + 1;
      if (poison || attempt >= (job.opts.attempts ?? 1)) {
        const reason = err instanceof Error ? err.message : String(err);
        await recordDeadLetter(this.#db.source, this.channel.name, { table, key, outboxId, reason, attempts: attempt });
        this.#stats.deadLettered++;
      } else {
        this.#stats.retried++;
      }
      // Retrying a poison row cannot help until the row changes, and a change brings a new job.
      if (poison) throw new UnrecoverableError(err.message);
      throw err;
    }
  }
}
