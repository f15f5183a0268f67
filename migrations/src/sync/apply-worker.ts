import { createRedis, type Redis } from '@strangler/foundation';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { type ApplyOutcome, applyRow, applyRows } from './apply.ts';
import {
  mappingForSourceTable,
  queueNameOf,
  queuePrefixOf,
  type SyncChannel,
  type SyncMapping,
  validateChannel,
} from './channel.ts';
import { openSyncDatabases, type SyncDatabases } from './databases.ts';
import { recordDeadLetter } from './dead-letters.ts';
import { describeError, PoisonRowError } from './errors.ts';
import { markApplied, markAppliedMany } from './outbox.ts';
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
 * - Group commit: a job that finds no apply transaction running is applied at
 *   once, so a quiet channel waits for nothing; jobs that arrive while one runs
 *   wait and go together in the next (up to `batchSize` jobs: `applyRows`,
 *   then one `markAppliedMany`). A second transaction starts beside a running
 *   one only for a full batch, up to `concurrency` at once. When a batch
 *   fails, each of its jobs is applied on its own, so one bad row fails only
 *   its own job. Alone, a row costs about seven round trips and two commits
 *   (two WAL flushes); a batch shares them.
 */

export interface ApplyWorkerOptions {
  /** Apply transactions in parallel (per-row locks keep same-key jobs from racing). */
  concurrency?: number;
  /** Jobs one apply transaction takes at most (default 16); 1 applies every job in a transaction of its own. */
  batchSize?: number;
  /**
   * How long a job stays locked to this worker without a renewal (renewed
   * every half of it while the job runs), and how often stalled jobs are
   * looked for. A worker that dies leaves its jobs locked until both have
   * passed, twice: BullMQ's defaults (30 s each) made that about a minute;
   * apply transactions last milliseconds, so the defaults here are shorter.
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Errors outside any one job (Redis connection, worker internals). */
  onError?: (err: unknown) => void;
}

interface PendingApply {
  mapping: SyncMapping;
  key: string;
  outboxId: number;
  resolve(outcome: ApplyOutcome): void;
  reject(err: unknown): void;
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
  readonly #concurrency: number;
  readonly #batchSize: number;
  readonly #waiting: PendingApply[] = [];
  #applying = 0;
  #running: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(channel: SyncChannel, opts: ApplyWorkerOptions = {}) {
    this.channel = validateChannel(channel);
    const concurrency = opts.concurrency ?? 4;
    this.#concurrency = concurrency;
    this.#batchSize = Math.max(1, opts.batchSize ?? 16);
    // Not the error object: a Postgres error's `detail` can quote a row, password hash and all.
    this.#onError = opts.onError ?? ((err) => console.error(`[apply ${channel.name}] ${describeError(err)}`));
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
      // Enough jobs in hand to fill every transaction's batch.
      concurrency: concurrency * this.#batchSize,
      lockDuration: opts.lockDurationMs ?? 10_000,
      stalledInterval: opts.stalledIntervalMs ?? 5_000,
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
      const outcome = await this.#apply(mapping, key, outboxId);
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

  /** Resolves once the row is applied and its outbox row marked, alone or in a batch (see the contract). */
  #apply(mapping: SyncMapping, key: string, outboxId: number): Promise<ApplyOutcome> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ mapping, key, outboxId, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#applying < this.#concurrency && this.#waiting.length > 0) {
      // While one transaction runs, jobs wait to fill the next batch rather than start small ones beside it:
      // fewer, fuller transactions is what a busy database needs; parallel ones only once batches are full.
      if (this.#applying > 0 && this.#waiting.length < this.#batchSize) return;
      const first = this.#waiting[0] as PendingApply;
      // One transaction applies one mapping's rows: take the waiting jobs of the first one's table.
      const batch: PendingApply[] = [];
      for (let i = 0; i < this.#waiting.length && batch.length < this.#batchSize; ) {
        const p = this.#waiting[i] as PendingApply;
        if (p.mapping === first.mapping) {
          batch.push(p);
          this.#waiting.splice(i, 1);
        } else {
          i++;
        }
      }
      this.#applying++;
      void this.#applyBatch(batch).finally(() => {
        this.#applying--;
        this.#pump();
      });
    }
  }

  async #applyBatch(batch: readonly PendingApply[]): Promise<void> {
    const first = batch[0];
    if (!first) return;
    if (batch.length > 1) {
      let outcomes: Map<string, ApplyOutcome | PoisonRowError> | undefined;
      try {
        outcomes = await applyRows(
          this.#db,
          this.channel,
          first.mapping,
          batch.map((p) => p.key),
        );
        const applied = batch.filter((p) => !(outcomes?.get(p.key) instanceof PoisonRowError));
        await markAppliedMany(
          this.#db.source,
          applied.map((p) => p.outboxId),
        );
      } catch {
        outcomes = undefined;
      }
      if (outcomes) {
        for (const p of batch) {
          const outcome = outcomes.get(p.key);
          if (outcome instanceof PoisonRowError) p.reject(outcome);
          else if (outcome === undefined) p.reject(new Error(`applyRows returned nothing for key ${p.key}`));
          else p.resolve(outcome);
        }
        return;
      }
      // The batch failed as a whole: apply each job on its own, so only the row at fault fails.
    }
    for (const p of batch) {
      try {
        const outcome = await applyRow(this.#db, this.channel, p.mapping, p.key);
        await markApplied(this.#db.source, p.outboxId);
        p.resolve(outcome);
      } catch (err) {
        p.reject(err);
      }
    }
  }
}
