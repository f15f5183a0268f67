import { createKnex, type Knex, type Redis } from '@strangler/foundation';
import type { Queue } from 'bullmq';
import pg from 'pg';
import { outboxInstanceOf, RELAY_ASLEEP, RELAY_AWAKE } from './capture.ts';
import { jobIdOf, notifyChannelName, relayAwakeSequenceName, type SyncChannel, validateChannel } from './channel.ts';
import { describeError } from './errors.ts';
import { claimUnrelayed, hasUnrelayed, markRelayed, relayedUnapplied, unmarkRelayed } from './outbox.ts';
import { type ApplyJobData, type ApplyJobOptions, bullJobOptions, openSyncQueue, producerRedis } from './queue.ts';

/**
 * OutboxRelay: moves captured changes from the outbox to BullMQ.
 *
 * Contract
 * - Takes unrelayed rows in id order, `FOR UPDATE SKIP LOCKED` (several relays
 *   may run), adds one job per row with job id `<channel>.<outbox id>`, and
 *   marks the rows relayed in the same transaction AFTER the add succeeded.
 *   A crash between add and mark leaves the rows unrelayed; they are re-added
 *   under the same job ids, which BullMQ deduplicates.
 * - Wakes on `NOTIFY strangler_outbox_<channel>` from a dedicated connection,
 *   polls every `pollIntervalMs` as a fallback, and reconnects that connection
 *   when it drops. Stopping and starting at any point loses nothing.
 * - While changes flow it stays awake, polls every `awakePollMs`, and tells the
 *   capture trigger so (`strangler_relay_awake_<channel>`), which then skips
 *   its NOTIFY: Postgres commits notifying transactions one at a time, WAL
 *   flush included, so a NOTIFY per write caps the monolith's write rate.
 *   Before sleeping again it waits out the transactions that may have skipped
 *   their NOTIFY (#fallAsleep). Several relays share one flag; a relay that
 *   dies awake leaves it set until another relay sleeps (it starts by sleeping),
 *   and meanwhile sleeping relays see changes at their next poll.
 * - The outbox is the source of truth: `requeueUnapplied` (also run every
 *   `sweepIntervalMs`) re-relays rows that were relayed but whose job Redis no
 *   longer has (a Redis restart or flush), so nothing waits forever.
 */

export interface OutboxRelayOptions {
  /** Outbox rows per transaction and per `addBulk`. */
  batchSize?: number;
  /** The polling fallback when no notification arrives. */
  pollIntervalMs?: number;
  /**
   * While changes flow the relay is awake: it polls every `awakePollMs` and the
   * capture trigger does not NOTIFY (each NOTIFY serialises the writers'
   * commits). It goes back to sleeping on LISTEN after `lingerMs` without a change.
   */
  awakePollMs?: number;
  lingerMs?: number;
  /** How often the relay runs `requeueUnapplied` itself; 0 turns it off. */
  sweepIntervalMs?: number;
  /** A relayed row younger than this is never requeued by the sweep. */
  requeueAfterMs?: number;
  jobOptions?: ApplyJobOptions;
  /** Errors the relay recovers from (database or Redis away); it keeps going. */
  onError?: (err: unknown) => void;
  /**
   * Called after a batch's jobs are in Redis and before its rows are marked;
   * throwing aborts the batch as a crash at that moment would. A seam for
   * fault-injection tests, and for metrics.
   */
  onBatchAdded?: (outboxIds: readonly number[]) => void | Promise<void>;
}

export interface OutboxRelayStats {
  relayed: number;
  batches: number;
  requeued: number;
}

const RECONNECT_DELAY_MS = 1_000;
const ERROR_BACKOFF_MS = 500;
/** Job states that mean the job is still on its way to a worker, or in one. */
const IN_FLIGHT = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/** Resolves the one pending wait early; a ring with nobody waiting is remembered until the next wait. */
class Doorbell {
  #rung = false;
  #wake: (() => void) | undefined;

  ring(): void {
    this.#rung = true;
    this.#wake?.();
  }

  async wait(ms: number): Promise<void> {
    if (this.#rung) {
      this.#rung = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = () => done();
      this.#wake = wake;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
    this.#wake = undefined;
    this.#rung = false;
  }
}

export class OutboxRelay {
  readonly channel: SyncChannel;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #awakePollMs: number;
  readonly #lingerMs: number;
  readonly #sweepIntervalMs: number;
  readonly #requeueAfterMs: number;
  readonly #jobOptions: ReturnType<typeof bullJobOptions>;
  readonly #onError: (err: unknown) => void;
  readonly #onBatchAdded: OutboxRelayOptions['onBatchAdded'];
  readonly #knex: Knex;
  readonly #redis: Redis;
  readonly #queue: Queue<ApplyJobData>;
  readonly #bell = new Doorbell();
  readonly #stats: OutboxRelayStats = { relayed: 0, batches: 0, requeued: 0 };
  #listener: pg.Client | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #lastSweep = Date.now();
  #requeueNow = false;
  #instance: string | undefined;

  constructor(channel: SyncChannel, opts: OutboxRelayOptions = {}) {
    this.channel = validateChannel(channel);
    this.#batchSize = opts.batchSize ?? 500;
    this.#pollIntervalMs = opts.pollIntervalMs ?? 500;
    this.#awakePollMs = opts.awakePollMs ?? 10;
    this.#lingerMs = opts.lingerMs ?? 1_000;
    this.#sweepIntervalMs = opts.sweepIntervalMs ?? 30_000;
    this.#requeueAfterMs = opts.requeueAfterMs ?? 30_000;
    this.#jobOptions = bullJobOptions(opts.jobOptions);
    // Not the error object: a Postgres error's `detail` can quote a row, password hash and all.
    this.#onError = opts.onError ?? ((err) => console.error(`[relay ${channel.name}] ${describeError(err)}`));
    this.#onBatchAdded = opts.onBatchAdded;
    this.#knex = createKnex({
      url: channel.sourceUrl,
      pool: { max: 2 },
      applicationName: `strangler-relay-${channel.name}`,
    });
    this.#redis = producerRedis(channel, 'relay');
    this.#queue = openSyncQueue(channel, this.#redis);
    this.#queue.on('error', (err) => this.#onError(err));
    // Back from a lost connection, Redis may have restarted empty: the jobs it
    // held are gone. Look at once instead of at the next sweep.
    let lost = false;
    this.#redis.on('close', () => {
      lost = true;
    });
    this.#redis.on('ready', () => {
      if (!lost || this.#stopping) return;
      lost = false;
      this.#requeueNow = true;
      this.#bell.ring();
    });
  }

  get stats(): Readonly<OutboxRelayStats> {
    return { ...this.#stats };
  }

  /** Listens, then relays in the background until `stop()`. Rejects when the source database cannot be reached. */
  async start(): Promise<void> {
    if (this.#loop) return;
    if (this.#stopped) throw new Error('OutboxRelay: stopped relays cannot be restarted; create a new one');
    await this.#connectListener();
    this.#loop = this.#run();
  }

  /** Finishes the batch in progress, then closes every connection the relay opened. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#close();
    return this.#stopped;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    this.#bell.ring();
    clearTimeout(this.#reconnectTimer);
    await this.#loop;
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => {});
    await this.#queue.close();
    this.#redis.disconnect();
    await this.#knex.destroy();
  }

  /** The outbox's identity, part of every job id; read once. */
  async #outboxInstance(): Promise<string> {
    this.#instance ??= await outboxInstanceOf(this.#knex);
    return this.#instance;
  }

  /** Relays one batch now; returns how many rows it relayed. */
  async relayOnce(): Promise<number> {
    const instance = await this.#outboxInstance();
    const n = await this.#knex.transaction(async (trx) => {
      const rows = await claimUnrelayed(trx, this.channel.name, this.#batchSize);
      if (rows.length === 0) return 0;
      await this.#queue.addBulk(
        rows.map((r) => ({
          name: r.table,
          data: { table: r.table, key: r.key, op: r.op, outboxId: r.id },
          opts: { ...this.#jobOptions, jobId: jobIdOf(this.channel, instance, r.id) },
        })),
      );
      const ids = rows.map((r) => r.id);
      await this.#onBatchAdded?.(ids);
      await markRelayed(trx, ids);
      return rows.length;
    });
    if (n > 0) {
      this.#stats.relayed += n;
      this.#stats.batches += 1;
    }
    return n;
  }

  /**
   * Re-relays rows that were relayed at least `olderThanMs` ago, are not
   * applied, and whose job Redis does not hold in flight (lost in a restart or
   * flush, or finished without its row being marked). Returns how many.
   */
  async requeueUnapplied(opts: { olderThanMs?: number; limit?: number } = {}): Promise<number> {
    const candidates = await relayedUnapplied(
      this.#knex,
      this.channel.name,
      opts.olderThanMs ?? this.#requeueAfterMs,
      opts.limit ?? 10_000,
    );
    const instance = await this.#outboxInstance();
    const lost: number[] = [];
    const CHUNK = 200;
    for (let i = 0; i < candidates.length; i += CHUNK) {
      const chunk = candidates.slice(i, i + CHUNK);
      const states = await Promise.all(
        chunk.map((c) => this.#queue.getJobState(jobIdOf(this.channel, instance, c.id))),
      );
      for (const [j, state] of states.entries()) {
        const c = chunk[j];
        if (!c || IN_FLIGHT.has(state)) continue;
        // A finished job would swallow the re-add of its id: remove it first.
        if (state !== 'unknown') await this.#queue.remove(jobIdOf(this.channel, instance, c.id));
        lost.push(c.id);
      }
    }
    // A row applied since it was looked at stays as it is, and is not counted.
    const requeued = (await unmarkRelayed(this.#knex, lost)).length;
    this.#stats.requeued += requeued;
    if (requeued > 0) this.#bell.ring();
    return requeued;
  }

  async #run(): Promise<void> {
    // Starts as if awake and idle: it goes to sleep first, which also resets a flag a crashed relay left "awake".
    let awake = true;
    let lastActivity = 0;
    let foundNothing = false;
    while (!this.#stopping) {
      try {
        if (this.#requeueNow) {
          this.#requeueNow = false;
          // Nothing in flight is touched: only rows whose job Redis no longer holds.
          await this.requeueUnapplied({ olderThanMs: 0 });
        }
        if (this.#sweepIntervalMs > 0 && Date.now() - this.#lastSweep >= this.#sweepIntervalMs) {
          this.#lastSweep = Date.now();
          await this.requeueUnapplied();
        }
        // Polling after an empty round, it looks first (one query) rather than open a claiming transaction (three).
        const relayed: number = foundNothing && !(await this.#hasWork()) ? 0 : await this.relayOnce();
        foundNothing = relayed === 0;
        if (relayed > 0) {
          lastActivity = Date.now();
          if (!awake) await this.#setAwake(true);
          awake = true;
        }
        // A full batch means there is probably more: go again without waiting.
        if (relayed >= this.#batchSize || this.#stopping) continue;
        if (awake && Date.now() - lastActivity < this.#lingerMs) {
          await this.#bell.wait(this.#awakePollMs);
          continue;
        }
        if (awake) {
          if (!(await this.#fallAsleep())) {
            lastActivity = Date.now();
            continue;
          }
          awake = false;
        }
      } catch (err) {
        this.#onError(err);
        await this.#bell.wait(ERROR_BACKOFF_MS);
        continue;
      }
      if (!this.#stopping) await this.#bell.wait(this.#pollIntervalMs);
    }
    await this.#setAwake(false).catch(() => {});
  }

  /**
   * Awake, the relay polls every `awakePollMs` and writers skip the NOTIFY
   * (capture.ts). Before it sleeps on LISTEN it says so, then waits until every
   * transaction that was running at that moment has ended, relaying what they
   * commit: a writer that read "awake" and skipped its NOTIFY was one of them,
   * so its change is relayed here and not left for the poll. Returns false
   * (still awake) when changes kept coming.
   */
  async #fallAsleep(): Promise<boolean> {
    await this.#setAwake(false);
    const { rows } = await this.#knex.raw<{ rows: Array<{ horizon: string }> }>(
      'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS horizon',
    );
    const horizon = rows[0]?.horizon ?? '0';
    while (!this.#stopping) {
      // Whether they have all ended is asked before looking for work, so the last look sees all they committed.
      const { rows: ended } = await this.#knex.raw<{ rows: Array<{ done: boolean }> }>(
        'SELECT pg_snapshot_xmin(pg_current_snapshot()) >= ?::xid8 AS done',
        [horizon],
      );
      if ((await this.#hasWork()) && (await this.relayOnce()) > 0) {
        await this.#setAwake(true);
        return false;
      }
      if (ended[0]?.done) return true;
      await this.#bell.wait(this.#awakePollMs);
    }
    return true;
  }

  #hasWork(): Promise<boolean> {
    return hasUnrelayed(this.#knex, this.channel.name);
  }

  async #setAwake(awake: boolean): Promise<void> {
    try {
      await this.#knex.raw('SELECT setval(?::regclass, ?, true)', [
        relayAwakeSequenceName(this.channel),
        awake ? RELAY_AWAKE : RELAY_ASLEEP,
      ]);
    } catch (err) {
      // Capture not installed (yet, or any more): no trigger reads the flag.
      if ((err as { code?: string }).code !== '42P01') throw err;
    }
  }

  async #connectListener(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.channel.sourceUrl,
      application_name: `strangler-relay-listen-${this.channel.name}`,
      connectionTimeoutMillis: 5_000,
    });
    const lost = (err?: unknown) => {
      if (err) this.#onError(err);
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    client.on('notification', () => this.#bell.ring());
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${notifyChannelName(this.channel)}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.#stopping) {
      await client.end().catch(() => {});
      return;
    }
    this.#listener = client;
    // Whatever was committed while nobody listened: look now.
    this.#bell.ring();
  }

  #scheduleReconnect(): void {
    if (this.#stopping) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#connectListener().catch((err) => {
        this.#onError(err);
        this.#scheduleReconnect();
      });
    }, RECONNECT_DELAY_MS);
  }
}
