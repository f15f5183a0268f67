import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRedis, type Knex } from '@strangler/foundation';
import { freePort } from '@strangler/foundation/testing';
import type { Queue } from 'bullmq';
import { afterAll, describe, it, type TestContext } from 'vitest';
import { type ManagedProcess, startProcess } from '../../../scripts/lib/processes.ts';
import {
  type ApplyJobData,
  backfillStatus,
  captureLag,
  installCapture,
  listDeadLetters,
  OUTBOX_TABLE,
  openSyncQueue,
  type SyncChannel,
} from '../../src/sync/index.ts';
import type { ChildEvent, ChildLine, SyncChildConfig } from './fixtures/sync-child.ts';
import {
  channelOf,
  expectNoDrift,
  insertUsers,
  obliterateQueue,
  openSyncFixture,
  type SyncFixture,
  startWriter,
  usersMapping,
  type Writer,
  waitFor,
  waitForQuiescence,
} from './harness.ts';

/**
 * The sync engine under real crashes: relay, apply workers and backfill run in
 * child processes (fixtures/sync-child.ts) and are killed with SIGKILL, so no
 * `finally`, no `close()` and no signal handler runs; Redis is a real
 * redis-server that is killed and started again empty. Each test ends the same
 * way: every captured change applied, reconcile finds no drift, and the target
 * holds exactly the source's keys.
 *
 * The three tests are independent (their own databases, queue prefixes and,
 * for the Redis one, their own Redis) and run concurrently: the first spends
 * most of its time waiting for BullMQ's stalled-job check (see there).
 */

// Redis logical db 10 is this file's (tests 1 and 2; test 3 has a Redis of its own). Nothing here flushes it.
const REDIS_DB = 10;
const PREFIX = `sync-crash-test-${process.pid}`;
const FIXTURE = fileURLToPath(new URL('./fixtures/sync-child.ts', import.meta.url));
const logDir = mkdtempSync(join(tmpdir(), 'strangler-crash-'));

// Cleanups run in reverse order of registration, each whatever happened before it (also after a failure).
const cleanups: Array<() => Promise<unknown>> = [];
const onCleanup = (fn: () => Promise<unknown>) => cleanups.push(fn);

afterAll(async () => {
  for (const fn of cleanups.reverse()) {
    await fn().catch((err: unknown) => console.error('[crash] cleanup failed:', err));
  }
  if (process.env.CRASH_KEEP_LOGS) console.log(`[crash] child logs kept in ${logDir}`);
  else rmSync(logDir, { recursive: true, force: true });
}, 60_000);

type Line<K extends ChildEvent['event']> = Extract<ChildEvent, { event: K }> & { at: number };
type Stats = Line<'stats'>;
const NO_STATS: Stats = {
  event: 'stats',
  relayed: 0,
  batches: 0,
  requeued: 0,
  applied: 0,
  retried: 0,
  deadLettered: 0,
  at: 0,
};

/** A child process: its stdout parsed into events, the raw output in a log file printed when the test fails. */
class Child {
  readonly name: string;
  readonly events: ChildLine[] = [];
  readonly proc: ManagedProcess;
  /** Resolves once the process has exited and its stdout is read to the end. */
  readonly gone: Promise<void>;

  constructor(name: string, mode: 'sync' | 'backfill', config: SyncChildConfig) {
    this.name = name;
    this.proc = startProcess(name, FIXTURE, {}, join(logDir, `${name}.log`), [mode, JSON.stringify(config)]);
    const { child } = this.proc;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const read = new Promise<void>((resolve) => lines.once('close', () => resolve()));
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return; // a library's own output: it is in the log file
      try {
        this.events.push(JSON.parse(line) as ChildLine);
      } catch {
        // not one of ours
      }
    });
    this.gone = Promise.all([exited, read]).then(() => {});
    onCleanup(() => this.kill());
  }

  get logFile(): string {
    return this.proc.logFile;
  }

  get alive(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  stats(): Stats {
    return this.events.findLast((e): e is Stats => e.event === 'stats') ?? NO_STATS;
  }

  of<K extends ChildEvent['event']>(kind: K): Array<Line<K>> {
    return this.events.filter((e): e is Line<K> => e.event === kind);
  }

  /** Waits for `check`, failing early (with the log) when the process dies first. */
  async until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${this.name}: ${what}`,
      async () => {
        if (await check()) return true;
        if (!this.alive) throw new Error(`${this.name} exited (${this.exitStatus()}) before ${what}`);
        return false;
      },
      timeoutMs,
    );
  }

  exitStatus(): string {
    const { exitCode, signalCode } = this.proc.child;
    return signalCode ? `signal ${signalCode}` : `code ${exitCode}`;
  }

  /** SIGKILL: the process gets no chance to clean up. */
  async kill(): Promise<void> {
    if (this.alive) this.proc.child.kill('SIGKILL');
    await this.gone;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '(no log)';
  }
}

/** A redis-server of the test's own, on `port`, with no persistence: killed, it comes back empty. */
class PrivateRedis {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly ready: Promise<void>;
  readonly gone: Promise<void>;

  constructor(name: string, port: number) {
    this.name = name;
    this.logFile = join(logDir, `${name}.log`);
    this.child = spawn(
      'redis-server',
      ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const log = createWriteStream(this.logFile);
    this.child.stdout?.pipe(log);
    this.child.stderr?.pipe(log);
    this.gone = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (line.includes('Ready to accept connections')) resolve();
      });
      this.child.once('exit', (code, signal) =>
        reject(new Error(`${name} exited (${signal ?? code}) before it was ready`)),
      );
      this.child.once('error', reject);
    });
    this.ready.catch(() => {});
    onCleanup(() => this.kill());
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.gone;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '(no log)';
  }
}

const LOG_LINES = 300;

/** Prints the logs (their last lines: a sync child prints its counters ten times a second) of everything the test started, when it fails. */
function printLogsOnFailure(onTestFailed: TestContext['onTestFailed']): Array<Child | PrivateRedis> {
  const started: Array<Child | PrivateRedis> = [];
  onTestFailed(() => {
    for (const p of started) {
      const lines = p.log().trimEnd().split('\n');
      const cut = lines.length > LOG_LINES ? `(the last ${LOG_LINES} of ${lines.length} lines)\n` : '';
      console.error(`\n----- ${p.name} (${p.logFile}) -----\n${cut}${lines.slice(-LOG_LINES).join('\n')}`);
    }
  });
  return started;
}

function childConfig(
  channel: SyncChannel,
  targetTable: string,
  extra: Omit<SyncChildConfig, 'channel'> = {},
): SyncChildConfig {
  return {
    channel: {
      name: channel.name,
      sourceUrl: channel.sourceUrl,
      targetUrl: channel.targetUrl,
      redisUrl: channel.redisUrl,
      queuePrefix: channel.queuePrefix ?? '',
      targetTable,
    },
    ...extra,
  };
}

async function openFixture(): Promise<SyncFixture> {
  const fx = await openSyncFixture({ redisDb: REDIS_DB });
  onCleanup(() => fx.close());
  return fx;
}

function writerOf(fx: SyncFixture, seed: number, prefix: string, ids: number[]): Writer {
  const writer = startWriter(fx.sourceKnex, { seed, prefix, ids });
  onCleanup(() => writer.stop());
  return writer;
}

/** A Queue handle on the channel's queue, for looking at jobs from the outside. */
function queueOf(channel: SyncChannel): { queue: Queue<ApplyJobData>; close(): Promise<void> } {
  const redis = createRedis({ url: channel.redisUrl, role: 'client' });
  redis.on('error', () => {});
  const queue = openSyncQueue(channel, redis);
  queue.on('error', () => {});
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= queue.close().finally(() => redis.disconnect());
    return closed;
  };
  onCleanup(close);
  return { queue, close };
}

async function keys(knex: Knex, table: string): Promise<number[]> {
  const rows: Array<{ id: number }> = await knex(table).select('id').orderBy('id');
  return rows.map((r) => Number(r.id));
}

/** The target holds each source key exactly once and nothing else. */
async function expectSameKeys(fx: SyncFixture, expect: TestContext['expect']): Promise<number> {
  const [source, target] = await Promise.all([keys(fx.sourceKnex, 'users'), keys(fx.targetKnex, 'copy_users')]);
  expect(new Set(target).size).toBe(target.length);
  expect(target.length).toBe(source.length);
  expect(target).toEqual(source);
  return target.length;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe.concurrent('the sync engine under SIGKILL', () => {
  it('an apply worker killed mid-flow loses nothing: its jobs come back through BullMQ’s stalled-job check', {
    timeout: 150_000,
  }, async ({ expect, onTestFailed }) => {
    const started = printLogsOnFailure(onTestFailed);
    const fx = await openFixture();
    const channel = channelOf(fx, 'crash-apply', [usersMapping()], `${PREFIX}-apply`);
    onCleanup(() => obliterateQueue(channel));
    const { queue } = queueOf(channel);
    await installCapture(fx.sourceKnex, channel);
    // A backlog for the first worker (1000 captured inserts), so that it dies with jobs in hand and more behind them.
    const ids = await insertUsers(fx.sourceKnex, 'apply-seed', 1000);
    const writer = writerOf(fx, 11, 'apply-w', ids);

    // Why the killed worker's jobs come back, and what does not bring them back:
    // - BullMQ moved each job it handed the worker to `active` under a lock (ApplyWorker's
    //   lockDurationMs, 10 s, renewed every 5 s while a job runs). After the SIGKILL nobody renews
    //   the locks, and the jobs stay `active` with nobody working on them: up to concurrency ×
    //   batchSize (64) of them.
    // - BullMQ's stalled-job check, run by the live workers every stalledIntervalMs (5 s), marks
    //   the jobs it finds active, and at a later check moves those whose lock has expired back to
    //   `wait` (stalledCounter 1; a second stall would fail the job, and the sweep would then
    //   requeue its row): some 10 to 20 s after the kill. With BullMQ's own defaults (30 s each)
    //   it was about a minute, which is why ApplyWorker sets shorter ones.
    // - The relay's sweep (requeueUnapplied) does not help: it skips rows whose job is in flight,
    //   `active` included. It runs every second here all the same, and the orphans still come
    //   back through BullMQ, which their stalledCounter shows.
    const relay = { pollIntervalMs: 200, sweepIntervalMs: 1_000, requeueAfterMs: 2_000 };
    const first = new Child('apply-1', 'sync', childConfig(channel, 'copy_users', { relay }));
    started.push(first);
    await first.until('applied some of the backlog', () => first.stats().applied >= 300);
    await waitFor('jobs in the worker’s hands and changes still unapplied', async () => {
      const [active, lag] = await Promise.all([queue.getActiveCount(), captureLag(channel)]);
      return active > 0 && lag.unappliedRows > 0;
    });
    await first.kill();
    const killedAt = Date.now();
    const appliedBeforeKill = first.stats().applied;

    // What the dead worker left: jobs still `active` (locked by nobody alive) and unapplied changes.
    const orphans = await queue.getActive();
    const orphanRows: Array<{ id: number; applied_at: Date | null }> = await fx
      .sourceKnex(OUTBOX_TABLE)
      .select('id', 'applied_at')
      .whereIn(
        'id',
        orphans.map((j) => j.data.outboxId),
      );
    const stuck = orphanRows.filter((r) => r.applied_at === null).length;
    const lagAtKill = await captureLag(channel);
    expect(orphans.length).toBeGreaterThan(0);
    expect(lagAtKill.unappliedRows).toBeGreaterThan(0);

    const second = new Child('apply-2', 'sync', childConfig(channel, 'copy_users', { relay }));
    started.push(second);
    await second.until('applied new changes', () => second.stats().applied > 0);
    const opsAtRestart = writer.current().ops;
    await waitFor('the writer to go on for a while', async () => writer.current().ops > opsAtRestart + 100);
    const written = await writer.stop();

    // Waiting mostly for the stalled-job check (see above).
    await waitForQuiescence(channel, 120_000);
    const drainedMs = Date.now() - killedAt;

    // Every orphan was run again by the new worker after BullMQ moved it back to `wait`, once.
    const after = await Promise.all(orphans.map((j) => queue.getJob(j.id as string)));
    expect(after.map((j) => j?.stalledCounter)).toEqual(orphans.map(() => 1));
    expect(await Promise.all(after.map((j) => j?.getState()))).toEqual(orphans.map(() => 'completed'));
    const rerunMs = Math.max(...after.map((j) => (j?.processedOn ?? 0) - killedAt));
    expect(await listDeadLetters(channel)).toEqual([]);

    await expectNoDrift(channel);
    const rows = await expectSameKeys(fx, expect);
    console.log(
      `[crash] apply worker SIGKILLed after ${appliedBeforeKill} applies with ${orphans.length} jobs in hand ` +
        `(${stuck} of them not applied yet) and ${lagAtKill.unappliedRows} changes unapplied; ` +
        `the stalled-job check gave them back ${seconds(rerunMs)} after the kill; all applied after ` +
        `${seconds(drainedMs)} (sweep requeued ${second.stats().requeued}); writer ${written.ops} ops; ${rows} rows, drift 0`,
    );
  });

  it('a backfill killed in the middle of a batch resumes from its checkpoint and ends with zero drift', {
    timeout: 90_000,
  }, async ({ expect, onTestFailed }) => {
    const ROWS = 20_000;
    const BATCH = 500;
    const APP = `crash-backfill-${process.pid}`;
    // An advisory lock key of the one-bigint kind; the row locks (row-locks.ts) are of the two-int kind.
    const GATE = 4_242_424_242;
    const started = printLogsOnFailure(onTestFailed);
    const fx = await openFixture();
    const channel = channelOf(fx, 'crash-fill', [usersMapping()], `${PREFIX}-fill`);
    onCleanup(() => obliterateQueue(channel));
    // What the monolith holds before the migration (written before capture, so only the backfill copies it).
    const { rows: seeded } = await fx.sourceKnex.raw<{ rows: Array<{ id: number }> }>(
      `INSERT INTO users (email, full_name, password_hash, created_at, updated_at)
         SELECT 'seed-' || g || '@example.test', 'Seed ' || g, 'x',
                clock_timestamp() - g * interval '1 minute', clock_timestamp() - g * interval '1 second'
           FROM generate_series(1, ?) AS g
         RETURNING id`,
      [ROWS],
    );
    // A gate in the target that only the backfill's INSERT statements pass through (a shared advisory
    // lock, taken by a trigger for its connections only). Closed by the test (the exclusive lock),
    // it holds a batch in the middle of its transaction, row locks taken and rows read, so the
    // SIGKILL lands there and not between two batches.
    await fx.targetKnex.raw(`
        CREATE FUNCTION backfill_gate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('application_name') = '${APP}' THEN PERFORM pg_advisory_xact_lock_shared(${GATE}); END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER backfill_gate BEFORE INSERT ON copy_users FOR EACH STATEMENT EXECUTE FUNCTION backfill_gate();`);
    await installCapture(fx.sourceKnex, channel);

    const sync = new Child('fill-sync', 'sync', childConfig(channel, 'copy_users', { relay: { pollIntervalMs: 200 } }));
    started.push(sync);
    await sync.until('ready', () => sync.of('ready').length > 0);
    // Writes across the whole key range, including rows the backfill has not reached yet.
    const writer = writerOf(
      fx,
      12,
      'fill-w',
      seeded.map((r) => r.id),
    );

    const backfill = { batchSize: BATCH, applicationName: APP };
    const first = new Child('fill-1', 'backfill', childConfig(channel, 'copy_users', { backfill }));
    started.push(first);
    await first.until('a few batches committed', () => first.of('progress').length >= 4);
    const gate = await fx.targetKnex.transaction();
    onCleanup(async () => {
      if (!gate.isCompleted()) await gate.rollback();
    });
    await gate.raw('SELECT pg_advisory_xact_lock(?::bigint)', [GATE]);
    await first.until('a batch held in the middle', async () => {
      const { rows } = await fx.targetKnex.raw<{ rows: unknown[] }>(
        `SELECT 1 FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = ? AND wait_event = 'advisory'
              AND query ILIKE '%insert into%'`,
        [APP],
      );
      return rows.length > 0;
    });
    await first.kill();
    await gate.commit();
    expect(first.of('done')).toEqual([]);

    // The killed batch's transaction is rolled back once its backend sees the client gone.
    await waitFor('the killed backfill’s connections to close', async () => {
      const { rows } = await fx.targetKnex.raw<{ rows: unknown[] }>(
        'SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?',
        [APP],
      );
      return rows.length === 0;
    });
    const [checkpoint] = await backfillStatus(channel);
    const lastReported = first.of('progress').at(-1);
    // The killed run writes several batches at once; the checkpoint stands after the last batch
    // whose predecessors had all committed: at most what it reported, and never past a batch it
    // was writing (those left nothing, and the rerun and the zero drift below prove it).
    expect(checkpoint?.finishedAt).toBeNull();
    expect(checkpoint?.rowsDone).toBeLessThanOrEqual(lastReported?.done ?? -1);
    expect((checkpoint?.rowsDone ?? -1) % BATCH).toBe(0);
    expect(checkpoint?.lastKey).not.toBeNull();
    expect(checkpoint?.rowsDone).toBeLessThan(ROWS);

    const second = new Child('fill-2', 'backfill', childConfig(channel, 'copy_users', { backfill }));
    started.push(second);
    await second.until('done', () => second.of('done').length > 0, 60_000);
    const [result] = second.of('done').map((e) => e.result);
    const table = result?.tables[0];
    expect(result?.aborted).toBe(false);
    expect(table).toMatchObject({ resumedFrom: checkpoint?.lastKey, finished: true, skipped: false });
    // It read only what lay after the checkpoint: fewer rows than the source holds.
    expect(table?.rows).toBeLessThan(ROWS);
    expect(table?.totalRows).toBe((checkpoint?.rowsDone ?? 0) + (table?.rows ?? 0));

    const written = await writer.stop();
    await waitForQuiescence(channel, 60_000);
    expect(await listDeadLetters(channel)).toEqual([]);
    await expectNoDrift(channel);
    const rows = await expectSameKeys(fx, expect);
    console.log(
      `[crash] backfill SIGKILLed mid-batch after ${checkpoint?.rowsDone} rows (${checkpoint?.batchesDone} batches); ` +
        `the rerun resumed after key ${checkpoint?.lastKey} and read ${table?.rows} rows in ${table?.batches} batches; ` +
        `writer ${written.ops} ops; ${rows} rows, drift 0`,
    );
  });

  it('Redis killed and started again empty while changes flow: the outbox keeps them, the relay re-relays what Redis lost', {
    timeout: 90_000,
  }, async ({ expect, onTestFailed }) => {
    const started = printLogsOnFailure(onTestFailed);
    const port = await freePort();
    let redis = new PrivateRedis('redis-1', port);
    started.push(redis);
    await redis.ready;
    const fx = await openFixture();
    const channel: SyncChannel = {
      ...channelOf(fx, 'crash-redis', [usersMapping()], `${PREFIX}-redis`),
      redisUrl: `redis://127.0.0.1:${port}/0`,
    };
    await installCapture(fx.sourceKnex, channel);
    // A backlog, so that Redis dies holding jobs nobody has taken yet.
    const ids = await insertUsers(fx.sourceKnex, 'redis-seed', 1000);
    const writer = writerOf(fx, 13, 'redis-w', ids);

    // What a Redis restart does to the engine (found with this test, see the report it prints):
    // - The relay's addBulk fails (its connection gives up after 2 reconnect attempts), its
    //   transaction rolls back and the rows stay unrelayed; it retries every 500 ms and relays
    //   again as soon as Redis answers. The monolith's writes never wait on Redis.
    // - The worker's connection waits for Redis and reconnects by itself. The jobs it held are
    //   applied (Postgres was there) and marked applied; finishing them in the new, empty Redis
    //   fails with "Missing key for job ..." (two onError reports per job, harmless). New jobs
    //   are taken at once.
    // - The jobs Redis held and no worker had taken are gone, their rows relayed but unapplied.
    //   The relay notices its connection came back and requeues at once every row whose job
    //   Redis no longer knows (no restart, no manual requeueUnapplied). The periodic sweep is
    //   left at its defaults (every 30 s, rows relayed 30 s ago), so it is the reconnect that
    //   brings them back within the test's time.
    const relay = { pollIntervalMs: 200 };
    const sync = new Child('redis-sync', 'sync', childConfig(channel, 'copy_users', { relay }));
    started.push(sync);
    await sync.until('applied some of the backlog', () => sync.stats().applied >= 200);
    const before = queueOf(channel);
    await waitFor('jobs waiting in Redis', async () => (await before.queue.getWaitingCount()) > 0);
    const lost = await before.queue.getWaitingCount();
    await before.close();

    const opsBefore = writer.current().ops;
    const relayedBefore = sync.stats().relayed;
    const eventsBefore = sync.events.length;
    await redis.kill();
    const downAt = Date.now();
    // The monolith's writes do not depend on Redis: they go on, captured in the outbox, unrelayed.
    await waitFor('writes captured while Redis is down', async () => {
      if (writer.current().ops < opsBefore + 100) return false;
      return (await captureLag(channel)).unrelayedRows > 0;
    });
    const outage = {
      ops: writer.current().ops - opsBefore,
      lag: await captureLag(channel),
      relayErrors: sync.events.slice(eventsBefore).filter((e) => e.event === 'error' && e.role === 'relay').length,
    };
    expect(sync.alive).toBe(true);

    redis = new PrivateRedis('redis-2', port);
    started.push(redis);
    await redis.ready;
    const upAt = Date.now();
    const after = queueOf(channel);
    await sync.until('relaying again', () => sync.stats().relayed > relayedBefore);
    const relayingMs = Date.now() - upAt;
    // A job completed in the new Redis: the worker took a job relayed after the restart.
    await sync.until('applying new jobs', async () => (await after.queue.getCompletedCount()) > 0);
    const applyingMs = Date.now() - upAt;
    const written = await writer.stop();

    await waitForQuiescence(channel, 60_000);
    const drainedMs = Date.now() - upAt;
    await after.close();
    // What Redis lost (jobs waiting when it died, relayed rows not yet applied) came back through the relay's requeue.
    expect(sync.stats().requeued).toBeGreaterThan(0);
    const firstRequeue = sync.of('stats').find((e) => e.requeued > 0);
    const requeuedMs = (firstRequeue?.at ?? upAt) - upAt;
    expect(await listDeadLetters(channel)).toEqual([]);
    await expectNoDrift(channel);
    const rows = await expectSameKeys(fx, expect);
    console.log(
      `[crash] Redis SIGKILLed with ${lost} jobs waiting; down ${seconds(upAt - downAt)}, during which the writer ` +
        `committed ${outage.ops} ops (${outage.lag.unrelayedRows} changes unrelayed, ${outage.relayErrors} relay errors ` +
        `reported); after the restart the relay relayed again in ${seconds(relayingMs)}, the worker completed a new ` +
        `job in ${seconds(applyingMs)}, the relay first requeued after ${seconds(requeuedMs)} ` +
        `(${sync.stats().requeued} in all), all applied ${seconds(drainedMs)} after the restart; ` +
        `writer ${written.ops} ops; ${rows} rows, drift 0`,
    );
  });
});
