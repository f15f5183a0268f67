import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createKnex, createRedis, databaseUrlFor, type Knex, type Redis, withAdminClient } from '@strangler/foundation';
import { Queue } from 'bullmq';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { writeBenchmarkSectionPart } from '../../scripts/lib/benchmarks-doc.ts';
import { migrateLatest } from '../src/migrator.ts';
import {
  DEAD_LETTERS_TABLE,
  installCapture,
  OUTBOX_TABLE,
  openSyncDatabases,
  queueNameOf,
  runBackfill,
  type SyncChannel,
} from '../src/sync/index.ts';
import { benchChannel } from './channel.ts';
import { BENCH_CONTEXTS, type BenchContext } from './contexts.ts';

/**
 * `pnpm bench:sync`: the sync engine against its limits, for each context
 * (users, then products), each on two scratch databases it creates and drops.
 *  1. Backfill throughput: runBackfill over N monolith rows with the context's
 *     forward channel, against the COPY limit (the same rows streamed COPY TO
 *     → COPY FROM with pg-copy-streams, the mapping done in SQL: contexts.ts),
 *     measured before and after it.
 *  2. Capture lag: with capture, an OutboxRelay and an ApplyWorker (in a child
 *     process, as `pnpm sync:worker` runs them), a writer changes the table at
 *     fixed rates on an open-loop schedule; each change's lag is the time from
 *     its outbox row's creation, in the writer's transaction, to its
 *     `applied_at`, set after the target committed.
 * Results are printed and written into docs/benchmarks.md, a part per context.
 * Timings are never asserted: they are read against the baselines of the same
 * run.
 */

const HELP = `Usage: pnpm bench:sync [options]

Measures the sync engine on this machine for each context, one after the
other, on scratch databases it creates (strangler_bench_<pid>_<context>_src and
_dst, dropped when the context is done, also on failure or Ctrl-C): backfill
rows/s against the COPY limit, then capture lag p50/p99 at fixed write rates.
Prints the results and writes them into docs/benchmarks.md (section "Sync
engine", between the bench:sync markers). Each context has its own part there,
between bench:sync:<context> markers, written as soon as that context is
measured: a run of one context leaves the other's part as it is.

Options:
  --context <name>    users, products or all (default all: users, then products)
  --rows <n>          rows in the monolith table for the backfill, in each context (default 1000000)
  --rates <list>      write rates for the lag, writes/s, ascending (default 100,250,500,1000,2000)
  --seconds <s>       seconds at each rate (default 10)
  --concurrency <n>   apply worker concurrency (default 4, as pnpm sync:worker)
  --quick             a smoke run: --rows 20000 --rates 100,500 --seconds 3
  --no-write          print the results without updating docs/benchmarks.md
  -h, --help          show this help

Environment:
  DATABASE_URL   the Postgres server to use (its host, port and user; the database
                 in it is only used to connect), default postgres://postgres@127.0.0.1:5432/postgres
  REDIS_URL      the Redis server, default redis://127.0.0.1:6379 (keys under bench-<pid>:, removed after)
`;

const BENCH = import.meta.dirname;
const DB_PREFIX = 'strangler_bench_';
/** Aborted by the first Ctrl-C / SIGTERM: the step in progress stops, then everything is cleaned up. */
const stop = new AbortController();

interface Options {
  /** As given, for the command line the results name. */
  context: 'all' | BenchContext['name'];
  contexts: readonly BenchContext[];
  rows: number;
  rates: number[];
  seconds: number;
  concurrency: number;
  write: boolean;
  quick: boolean;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      context: { type: 'string', default: 'all' },
      rows: { type: 'string' },
      rates: { type: 'string' },
      seconds: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      quick: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  const whole = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  };
  const quick = values.quick;
  const rows = whole('rows', values.rows ?? (quick ? '20000' : '1000000'), 1000, 50_000_000);
  const seconds = whole('seconds', values.seconds ?? (quick ? '3' : '10'), 1, 600);
  const rates = (values.rates ?? (quick ? '100,500' : '100,250,500,1000,2000'))
    .split(',')
    .map((r) => whole('rates', r.trim(), 1, 20_000));
  if (rates.some((r, i) => i > 0 && r <= (rates[i - 1] as number))) {
    throw new UsageError(`--rates must be ascending, got "${values.rates}"`);
  }
  const concurrency = whole('concurrency', values.concurrency, 1, 64);
  const context = values.context;
  const contexts = BENCH_CONTEXTS.filter((c) => context === 'all' || c.name === context);
  if (contexts.length === 0) {
    throw new UsageError(`--context must be ${BENCH_CONTEXTS.map((c) => c.name).join(', ')} or all, got "${context}"`);
  }
  return {
    context: context as Options['context'],
    contexts,
    rows,
    rates,
    seconds,
    concurrency,
    write: !values['no-write'],
    quick,
  };
}

// ---------------------------------------------------------------- output

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n < 10 ? n.toFixed(1) : String(Math.round(n)));

/** One status line on stderr: rewritten in place on a terminal, a line every few seconds otherwise. */
class Status {
  #last = 0;
  #open = false;
  update(text: string): void {
    const now = Date.now();
    if (process.stderr.isTTY) {
      process.stderr.write(`\r\x1b[2K${text}`);
      this.#open = true;
    } else if (now - this.#last >= 5_000) {
      process.stderr.write(`${text}\n`);
      this.#last = now;
    }
  }
  done(text: string): void {
    if (this.#open) process.stderr.write('\r\x1b[2K');
    this.#open = false;
    this.#last = 0;
    process.stderr.write(`${text}\n`);
  }
}
const status = new Status();

/** The first line of what went wrong, without a stack; pg reports a refused connection as an AggregateError. */
function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0 && !err.message) return describe(err.errors[0]);
  if (!(err instanceof Error)) return String(err);
  const first = err.message.split('\n')[0] ?? '';
  const code = (err as { code?: unknown }).code;
  return first || (typeof code === 'string' ? code : err.name);
}

/** host:port of a URL, never its password. */
function where(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol.startsWith('redis') ? '6379' : '5432')}`;
}

// ---------------------------------------------------------------- servers

async function checkPostgres(serverUrl: string): Promise<string> {
  try {
    return await withAdminClient(serverUrl, async (c) => {
      const { rows } = await c.query<{ v: string; n: string }>(
        "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n",
      );
      const [row] = rows;
      if (!row || Number(row.n) < 140000) {
        throw new Error(`PostgreSQL ${row?.v ?? '?'} is too old: the benchmark needs 14 or later`);
      }
      return row.v.split(' ')[0] ?? row.v;
    });
  } catch (err) {
    throw new Error(
      `cannot use Postgres at ${where(serverUrl)}: ${describe(err)} (is it running? DATABASE_URL names the server)`,
    );
  }
}

async function checkRedis(redisUrl: string): Promise<string> {
  const redis = createRedis({ url: redisUrl, role: 'client', connectionName: 'strangler-bench' });
  let lastError: unknown;
  redis.on('error', (err) => {
    lastError = err;
  });
  try {
    const info = await Promise.race([
      redis.info('server'),
      sleep(5_000).then(() => {
        throw new Error('no answer within 5 s');
      }),
    ]);
    return /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  } catch (err) {
    throw new Error(
      `cannot reach Redis at ${where(redisUrl)}: ${describe(lastError ?? err)} (is it running? REDIS_URL names it)`,
    );
  } finally {
    redis.disconnect();
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdminClient(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = createRedis({ url: redisUrl, role: 'client', connectionName: 'strangler-bench-cleanup' });
  redis.on('error', () => {});
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** Scratch databases (and queue keys) of earlier runs whose process is gone, e.g. killed with SIGKILL. */
async function dropLeftovers(serverUrl: string, redisUrl: string): Promise<void> {
  const names = await withAdminClient(serverUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${DB_PREFIX}%`,
    ]);
    return rows.map((r) => r.datname);
  });
  const pids = new Set<number>();
  for (const name of names) {
    const pid = Number(/^strangler_bench_(\d+)_/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await dropDatabase(serverUrl, name);
    pids.add(pid);
    status.done(`dropped ${name}, left by an earlier run (process ${pid} is gone)`);
  }
  for (const pid of pids) await deleteRedisKeys(redisUrl, `bench-${pid}`);
}

/** How busy the CPUs are over `ms`, from /proc/stat (null where there is none). */
async function cpuBusyPercent(ms: number): Promise<number | null> {
  const read = (): number[] | null => {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
      return line.trim().split(/\s+/).slice(1).map(Number);
    } catch {
      return null;
    }
  };
  const a = read();
  await sleep(ms);
  const b = read();
  if (!a || !b) return null;
  const delta = b.map((v, i) => v - (a[i] ?? 0));
  const total = delta.reduce((x, y) => x + y, 0);
  // user nice system idle iowait ...: idle and iowait are not busy.
  const idle = (delta[3] ?? 0) + (delta[4] ?? 0);
  return total > 0 ? (100 * (total - idle)) / total : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

// ---------------------------------------------------------------- part 1: backfill vs COPY

/** Fills the monolith's table of `context` with `rows` rows, a batch per statement so progress shows. */
async function fillTable(context: BenchContext, source: Knex, rows: number, signal: AbortSignal): Promise<number> {
  const started = performance.now();
  const step = 250_000;
  for (let from = 1; from <= rows && !signal.aborted; from += step) {
    const to = Math.min(rows, from + step - 1);
    await context.fillRange(source, from, to);
    status.update(`filling monolith ${context.table}: ${fmt(to)} / ${fmt(rows)}`);
  }
  signal.throwIfAborted();
  // Hint bits and the visibility map are set now, so neither measurement pays for them.
  await source.raw(`VACUUM (ANALYZE) ${context.table}`);
  return performance.now() - started;
}

interface Throughput {
  rows: number;
  ms: number;
  rowsPerSecond: number;
}

/**
 * The rows of `context`'s monolith table, mapped in SQL (context.copySelect),
 * streamed COPY TO → COPY FROM into `table` on the target. They are read in
 * table order, which is id order here (the table was just filled in id order).
 */
async function copyLimit(
  context: BenchContext,
  sourceUrl: string,
  target: Knex,
  targetUrl: string,
  table: string,
  rows: number,
  signal: AbortSignal,
): Promise<Throughput> {
  await target.raw('CHECKPOINT');
  const out = new pg.Client({ connectionString: sourceUrl, application_name: 'strangler-bench-copy-out' });
  const into = new pg.Client({ connectionString: targetUrl, application_name: 'strangler-bench-copy-in' });
  await out.connect();
  await into.connect();
  const ticker = setInterval(() => {
    target
      .raw(`SELECT tuples_processed AS n FROM pg_stat_progress_copy WHERE relid = to_regclass(?)`, [table])
      .then((r: { rows: Array<{ n: number }> }) => {
        const n = r.rows[0]?.n;
        if (n !== undefined) status.update(`COPY into ${table}: ${fmt(n)} / ${fmt(rows)} rows`);
      })
      .catch(() => {});
  }, 1_000);
  try {
    const started = performance.now();
    await pipeline(
      out.query(copyTo(`COPY (${context.copySelect}) TO STDOUT`)),
      into.query(copyFrom(`COPY ${table} (${context.copyColumns.join(', ')}) FROM STDIN`)),
      { signal },
    );
    const elapsed = performance.now() - started;
    const [{ n } = { n: 0 }] = (await target.raw(`SELECT count(*)::int AS n FROM ${table}`)).rows as Array<{
      n: number;
    }>;
    if (n !== rows) throw new Error(`COPY into ${table} left ${n} rows, expected ${rows}`);
    return { rows, ms: elapsed, rowsPerSecond: (rows * 1000) / elapsed };
  } finally {
    clearInterval(ticker);
    await Promise.all([out.end().catch(() => {}), into.end().catch(() => {})]);
  }
}

async function backfill(channel: SyncChannel, target: Knex, rows: number, signal: AbortSignal): Promise<Throughput> {
  await target.raw('CHECKPOINT');
  // As the CLI's session opens them: a pool of 6 on each side.
  const db = openSyncDatabases(channel, { poolMax: 6, applicationName: 'strangler-bench-backfill' });
  try {
    const result = await runBackfill(channel, {
      db,
      signal,
      onProgress: (p) =>
        status.update(
          `runBackfill ${channel.name}: ${fmt(p.done)} / ${fmt(p.total)} rows, ${fmt(p.rowsPerSecond)} rows/s, ETA ${p.etaSeconds === null ? '?' : `${Math.ceil(p.etaSeconds)} s`}`,
        ),
    });
    signal.throwIfAborted();
    const table = result.tables[0];
    if (!table || table.inserted !== rows || table.poison !== 0) {
      throw new Error(`runBackfill copied ${JSON.stringify(table)}, expected ${rows} rows inserted and none rejected`);
    }
    return { rows, ms: result.ms, rowsPerSecond: (rows * 1000) / result.ms };
  } finally {
    await db.close();
  }
}

// ---------------------------------------------------------------- part 2: capture lag

interface SyncProcess {
  child: ChildProcess;
  stop(): Promise<Record<string, number> | null>;
}

function startSyncProcess(context: BenchContext, channel: SyncChannel, concurrency: number): Promise<SyncProcess> {
  const child = spawn(process.execPath, [join(BENCH, 'sync-process.ts')], {
    env: {
      ...process.env,
      BENCH_CONTEXT: context.name,
      BENCH_SOURCE_URL: channel.sourceUrl,
      BENCH_TARGET_URL: channel.targetUrl,
      BENCH_REDIS_URL: channel.redisUrl,
      BENCH_QUEUE_PREFIX: channel.queuePrefix ?? '',
      BENCH_CONCURRENCY: String(concurrency),
    },
    // stdin stays open: when this process dies, the child sees it end and stops.
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.stdout?.on('data', (chunk: Buffer) => {
    output += String(chunk);
  });
  const stop = async (): Promise<Record<string, number> | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timeout = sleep(15_000).then(() => 'timeout' as const);
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    const line = output.split('\n').find((l) => l.startsWith('{"stats"'));
    return line ? (JSON.parse(line) as { stats: Record<string, number> }).stats : null;
  };
  return new Promise((resolvePromise, reject) => {
    const onData = () => {
      if (!output.includes('ready\n')) return;
      child.stdout?.off('data', onData);
      resolvePromise({ child, stop });
    };
    child.stdout?.on('data', onData);
    exited.then((code) => reject(new Error(`the sync process (relay + apply worker) exited with ${code} at start`)));
  });
}

interface Writes {
  scheduled: number;
  committed: number;
  failed: number;
  /** From the first scheduled write to the last commit. */
  ms: number;
  firstError?: string;
}

/**
 * Changes the monolith's table at `rate` writes/s for `seconds` on a fixed
 * schedule: write i starts at start + i/rate whether or not the ones before
 * it are done (open loop: a slow database or sync does not slow the writer
 * down). What each write is, the context says (BenchContext.write).
 */
async function paceWrites(
  context: BenchContext,
  pool: pg.Pool,
  rate: number,
  seconds: number,
  existing: number,
  tag: string,
  signal: AbortSignal,
  onTick: (done: number, total: number) => void,
): Promise<Writes> {
  const total = Math.round(rate * seconds);
  const writes: Writes = { scheduled: 0, committed: 0, failed: 0, ms: 0 };
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  let lastDone = start;
  let nextTick = start + 1_000;
  for (let i = 0; i < total && !signal.aborted; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(Math.floor(wait));
    if (performance.now() >= nextTick) {
      nextTick += 1_000;
      onTick(i, total);
    }
    const query = context.write(i, tag, existing);
    writes.scheduled++;
    inFlight.push(
      pool.query(query).then(
        () => {
          writes.committed++;
          lastDone = performance.now();
        },
        (err: unknown) => {
          writes.failed++;
          writes.firstError ??= describe(err);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  writes.ms = lastDone - start;
  return writes;
}

async function outboxHead(source: Knex, channel: SyncChannel): Promise<number> {
  const { rows } = await source.raw<{ rows: Array<{ id: number | null }> }>(
    `SELECT max(id)::bigint AS id FROM ${OUTBOX_TABLE} WHERE channel = ?`,
    [channel.name],
  );
  return rows[0]?.id ?? 0;
}

/** Outbox rows in (from, to] neither applied nor dead-lettered. */
async function pending(source: Knex, channel: SyncChannel, from: number, to: number): Promise<number> {
  const { rows } = await source.raw<{ rows: Array<{ n: number }> }>(
    `SELECT count(*)::int AS n FROM ${OUTBOX_TABLE} o
      WHERE o.channel = ? AND o.id > ? AND o.id <= ? AND o.applied_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM ${DEAD_LETTERS_TABLE} d WHERE d.channel = o.channel AND d.outbox_id = o.id)`,
    [channel.name, from, to],
  );
  return rows[0]?.n ?? 0;
}

interface LagResult {
  rate: number;
  writes: Writes;
  achieved: number;
  applied: number;
  notApplied: number;
  deadLettered: number;
  p50: number;
  p99: number;
  max: number;
  /** Of the lag, the part until the relay had the change in Redis (created_at → relayed_at). */
  relayP50: number;
  relayP99: number;
  drainMs: number;
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;

async function measureLag(
  context: BenchContext,
  source: Knex,
  pool: pg.Pool,
  channel: SyncChannel,
  rate: number,
  seconds: number,
  existing: number,
  signal: AbortSignal,
  tag = `r${rate}`,
): Promise<LagResult> {
  const from = await outboxHead(source, channel);
  const label = `${fmt(rate)} writes/s on ${context.table}`;
  const writes = await paceWrites(context, pool, rate, seconds, existing, tag, signal, (done, total) => {
    status.update(`capture lag at ${label}: ${fmt(done)} / ${fmt(total)} writes issued`);
  });
  signal.throwIfAborted();
  const to = await outboxHead(source, channel);
  // Wait for the sync to apply what was written, however long that takes, up to a bound.
  const drainStarted = performance.now();
  const drainLimitMs = Math.max(30_000, seconds * 3_000);
  let left = await pending(source, channel, from, to);
  while (left > 0 && performance.now() - drainStarted < drainLimitMs) {
    status.update(`capture lag at ${label}: waiting for the sync to apply ${fmt(left)} more changes`);
    await sleep(200, undefined, { signal });
    left = await pending(source, channel, from, to);
  }
  const drainMs = performance.now() - drainStarted;
  const { rows } = await source.raw<{ rows: Array<{ ms: number; relay: number }> }>(
    `SELECT (extract(epoch FROM applied_at - created_at) * 1000)::float8 AS ms,
            (extract(epoch FROM relayed_at - created_at) * 1000)::float8 AS relay
       FROM ${OUTBOX_TABLE} WHERE channel = ? AND id > ? AND id <= ? AND applied_at IS NOT NULL ORDER BY id`,
    [channel.name, from, to],
  );
  const { rows: dead } = await source.raw<{ rows: Array<{ n: number }> }>(
    `SELECT count(*)::int AS n FROM ${DEAD_LETTERS_TABLE} WHERE channel = ? AND outbox_id > ? AND outbox_id <= ?`,
    [channel.name, from, to],
  );
  const lags = rows.map((r) => r.ms).sort((a, b) => a - b);
  const relays = rows.map((r) => r.relay).sort((a, b) => a - b);
  return {
    rate,
    writes,
    achieved: writes.ms > 0 ? (writes.committed * 1000) / writes.ms : 0,
    applied: lags.length,
    notApplied: left,
    deadLettered: dead[0]?.n ?? 0,
    p50: quantile(lags, 0.5),
    p99: quantile(lags, 0.99),
    max: lags.at(-1) ?? Number.NaN,
    relayP50: quantile(relays, 0.5),
    relayP99: quantile(relays, 0.99),
    drainMs,
  };
}

// ---------------------------------------------------------------- report

interface Report {
  context: BenchContext;
  options: Options;
  /** Share of the CPUs busy during 2 s before the context started: other work on the machine. */
  busy: number | null;
  postgres: string;
  redis: string;
  load: number;
  fillMs: number;
  copies: Throughput[];
  backfill: Throughput;
  lags: LagResult[];
  skippedRates: number[];
  syncStats: Record<string, number> | null;
}

const LAG_TARGET = { rate: 500, p99: 250 };
const BACKFILL_TARGET = 0.5;

/** The command that measured a context, as the reader would type it. */
function commandLine(o: Options): string {
  return `pnpm bench:sync${o.context === 'all' ? '' : ` --context ${o.context}`}${o.quick ? ' --quick' : ''}`;
}

/** A context's part of the docs section: its heading, the machine, both tables and the targets. */
function render(r: Report): string {
  const o = r.options;
  const c = r.context;
  const limit = Math.max(...r.copies.map((copy) => copy.rowsPerSecond));
  const ratio = r.backfill.rowsPerSecond / limit;
  const lines = [
    `### ${c.title}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${r.postgres}, Redis ${r.redis} (before the start: load average ${r.load.toFixed(2)}${r.busy === null ? '' : `, CPUs ${Math.round(r.busy)} % busy`}), with \`${commandLine(o)}\`: ${fmt(o.rows)} ${c.rowNoun}; ${o.seconds} s at each write rate, apply worker concurrency ${o.concurrency}.`,
    '',
    `| backfill of the ${c.table} table | rows | seconds | rows/s | vs COPY limit |`,
    '|---|---:|---:|---:|---:|',
    ...r.copies.map(
      (copy, i) =>
        `| COPY limit, run ${i + 1} of ${r.copies.length} (pg-copy-streams, ${c.copyNote}, no JS mapping) | ${fmt(copy.rows)} | ${(copy.ms / 1000).toFixed(1)} | ${fmt(copy.rowsPerSecond)} | ${(copy.rowsPerSecond / limit).toFixed(2)} |`,
    ),
    `| runBackfill (${c.name} mapping, default batches, row locks, checkpoints) | ${fmt(r.backfill.rows)} | ${(r.backfill.ms / 1000).toFixed(1)} | ${fmt(r.backfill.rowsPerSecond)} | ${ratio.toFixed(2)} |`,
    '',
    `Backfill target, at least ${BACKFILL_TARGET.toFixed(2)} × the COPY limit (the faster run): ${ratio >= BACKFILL_TARGET ? 'met' : 'not met'} (${ratio.toFixed(2)}).`,
    '',
    '| writes/s asked | writes/s achieved | writes | lag p50 ms | lag p99 ms | lag max ms | of which to relay, p50 / p99 ms | not applied | dead-lettered |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const l of r.lags) {
    lines.push(
      `| ${fmt(l.rate)} | ${fmt(l.achieved)} | ${fmt(l.writes.committed)}${l.writes.failed ? ` (${fmt(l.writes.failed)} failed)` : ''} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.max)} | ${ms(l.relayP50)} / ${ms(l.relayP99)} | ${fmt(l.notApplied)} | ${fmt(l.deadLettered)} |`,
    );
  }
  for (const rate of r.skippedRates) lines.push(`| ${fmt(rate)} | not run | – | – | – | – | – | – | – |`);
  const keepsUp = r.lags.filter((l) => l.notApplied === 0 && l.p99 < 1_000);
  const best = keepsUp.at(-1);
  const atTarget = r.lags.find((l) => l.rate === LAG_TARGET.rate);
  lines.push('');
  lines.push(
    best
      ? `Highest rate measured with p99 lag under 1 s: ${fmt(best.rate)} writes/s (p99 ${ms(best.p99)} ms).`
      : 'No rate measured kept the p99 lag under 1 s.',
  );
  if (r.skippedRates.length > 0) {
    lines.push(
      `Not run: ${r.skippedRates.map(fmt).join(', ')} writes/s, since a lower rate already left the sync behind (p99 over 5 s or changes not applied).`,
    );
  }
  lines.push(
    atTarget
      ? `Lag target, p99 under ${LAG_TARGET.p99} ms at ${LAG_TARGET.rate} writes/s: ${atTarget.notApplied === 0 && atTarget.p99 < LAG_TARGET.p99 ? 'met' : 'not met'} (p99 ${ms(atTarget.p99)} ms).`
      : `Lag target, p99 under ${LAG_TARGET.p99} ms at ${LAG_TARGET.rate} writes/s: not measured in this run (--rates).`,
  );
  if (r.syncStats) {
    const s = r.syncStats;
    lines.push(
      `The sync process relayed ${fmt(s.relayed ?? 0)} changes in ${fmt(s.batches ?? 0)} relay batches and applied ${fmt(s.applied ?? 0)} (retried ${fmt(s.retried ?? 0)}, dead-lettered ${fmt(s.deadLettered ?? 0)}, errors ${fmt(s.errors ?? 0)}), warm-up included.`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

interface Servers {
  serverUrl: string;
  redisUrl: string;
  postgres: string;
  redis: string;
  queuePrefix: string;
  /** Told the scratch databases in use (none once dropped), for the message of a second Ctrl-C. */
  onScratch(names: readonly string[]): void;
}

/**
 * Both measurements of one context on a scratch pair of its own, dropped (with
 * the queue's Redis keys) before this returns or throws: the next context
 * starts on an empty server. Returns the context's part of the docs section.
 */
async function measureContext(context: BenchContext, options: Options, servers: Servers): Promise<string> {
  const { serverUrl, redisUrl, queuePrefix } = servers;
  const say = (text: string) => status.done(`${context.name}: ${text}`);
  const load = loadavg()[0] ?? 0;
  const busy = await cpuBusyPercent(2_000);
  const names = {
    source: `${DB_PREFIX}${process.pid}_${context.name}_src`,
    target: `${DB_PREFIX}${process.pid}_${context.name}_dst`,
  };
  const cleanups: Array<[string, () => Promise<unknown>]> = [];
  const sourceUrl = databaseUrlFor(serverUrl, names.source);
  const targetUrl = databaseUrlFor(serverUrl, names.target);
  const channel = benchChannel(context.name, { sourceUrl, targetUrl, redisUrl, queuePrefix });
  const table = context.table;
  servers.onScratch([names.source, names.target]);
  try {
    cleanups.push([`drop ${names.source}`, () => dropDatabase(serverUrl, names.source)]);
    cleanups.push([`drop ${names.target}`, () => dropDatabase(serverUrl, names.target)]);
    cleanups.push([`remove Redis keys ${queuePrefix}:*`, () => removeQueue(channel)]);
    say(`scratch databases ${names.source} and ${names.target} on ${where(serverUrl)}; queue prefix ${queuePrefix}`);
    await migrateLatest('monolith', sourceUrl);
    await migrateLatest(context.serviceSchema, targetUrl);
    const source = createKnex({ url: sourceUrl, pool: { max: 3 }, applicationName: 'strangler-bench' });
    const target = createKnex({ url: targetUrl, pool: { max: 3 }, applicationName: 'strangler-bench' });
    cleanups.push(['close connections', () => Promise.all([source.destroy(), target.destroy()])]);

    // 1. Backfill against the COPY limit.
    const fillMs = await fillTable(context, source, options.rows, stop.signal);
    say(`filled monolith ${table} with ${fmt(options.rows)} rows in ${(fillMs / 1000).toFixed(1)} s`);
    // As in production, capture goes on before the backfill (runBackfill checks); reads do not fire it.
    await installCapture(source, channel);
    const copies: Throughput[] = [];
    const first = await copyLimit(context, sourceUrl, target, targetUrl, table, options.rows, stop.signal);
    copies.push(first);
    say(`COPY limit, run 1: ${fmt(first.rowsPerSecond)} rows/s (${(first.ms / 1000).toFixed(1)} s)`);
    await target.raw(`TRUNCATE ${table}`);
    const filled = await backfill(channel, target, options.rows, stop.signal);
    say(
      `runBackfill: ${fmt(filled.rowsPerSecond)} rows/s (${(filled.ms / 1000).toFixed(1)} s), ${(filled.rowsPerSecond / first.rowsPerSecond).toFixed(2)} × COPY run 1`,
    );
    // The limit again, after the backfill, into an identical fresh table: load on a shared machine moves.
    // LIKE ... INCLUDING ALL keeps generated columns and indexes, so Postgres does the same work as in run 1.
    const copyTable = `bench_copy_${table}`;
    await target.raw(`CREATE TABLE ${copyTable} (LIKE ${table} INCLUDING ALL)`);
    const second = await copyLimit(context, sourceUrl, target, targetUrl, copyTable, options.rows, stop.signal);
    copies.push(second);
    say(`COPY limit, run 2: ${fmt(second.rowsPerSecond)} rows/s (${(second.ms / 1000).toFixed(1)} s)`);
    await target.raw(`DROP TABLE ${copyTable}`);
    await target.raw(`VACUUM (ANALYZE) ${table}`);

    // 2. Capture lag at fixed write rates, on the table just backfilled.
    const sync = await startSyncProcess(context, channel, options.concurrency);
    cleanups.push(['stop the sync process', () => sync.stop()]);
    const pool = new pg.Pool({ connectionString: sourceUrl, max: 16, application_name: 'strangler-bench-writer' });
    pool.on('error', () => {});
    cleanups.push(['close the writer', () => pool.end()]);
    const lags: LagResult[] = [];
    const skippedRates: number[] = [];
    // Warm-up (not reported): connections, prepared statements, JIT in both processes.
    await measureLag(context, source, pool, channel, 100, 2, options.rows, stop.signal, 'warm-up');
    for (const rate of options.rates) {
      const behind = lags.at(-1);
      if (behind && (behind.notApplied > 0 || behind.p99 > 5_000)) {
        skippedRates.push(rate);
        continue;
      }
      const lag = await measureLag(context, source, pool, channel, rate, options.seconds, options.rows, stop.signal);
      lags.push(lag);
      say(
        `capture lag at ${fmt(rate)} writes/s (achieved ${fmt(lag.achieved)}): p50 ${ms(lag.p50)} ms, p99 ${ms(lag.p99)} ms, max ${ms(lag.max)} ms` +
          `${lag.notApplied ? `, ${fmt(lag.notApplied)} not applied after ${(lag.drainMs / 1000).toFixed(0)} s` : ''}` +
          `${lag.writes.failed ? `, ${fmt(lag.writes.failed)} writes failed (${lag.writes.firstError})` : ''}`,
      );
      await sleep(1_000, undefined, { signal: stop.signal });
    }
    const syncStats = await sync.stop();

    return render({
      context,
      options,
      busy,
      postgres: servers.postgres,
      redis: servers.redis,
      load,
      fillMs,
      copies,
      backfill: filled,
      lags,
      skippedRates,
      syncStats,
    });
  } finally {
    for (const [what, cleanup] of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        process.stderr.write(`warning: could not ${what}: ${describe(err)}\n`);
      }
    }
    servers.onScratch([]);
  }
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) {
    process.stdout.write(HELP);
    return 0;
  }
  const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const postgres = await checkPostgres(serverUrl);
  const redis = await checkRedis(redisUrl);
  await dropLeftovers(serverUrl, redisUrl);

  const queuePrefix = `bench-${process.pid}`;
  let scratch: readonly string[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      const databases = scratch.length > 0 ? `databases ${scratch.join(' and ')}, ` : '';
      process.stderr.write(
        `\n${signal} again: exiting now. Left behind: ${databases}Redis keys ${queuePrefix}:* (the next run drops them)\n`,
      );
      process.exit(130);
    }
    process.stderr.write(`\n${signal}: stopping, then dropping the scratch databases (again to quit at once)\n`);
    stop.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const servers: Servers = {
    serverUrl,
    redisUrl,
    postgres,
    redis,
    queuePrefix,
    onScratch: (names) => {
      scratch = names;
    },
  };
  const order = BENCH_CONTEXTS.map((c) => c.name);
  for (const context of options.contexts) {
    stop.signal.throwIfAborted();
    const text = await measureContext(context, options, servers);
    process.stdout.write(`\n${text}\n\n`);
    // Written now, not after the last context: a context measured stays measured if a later one fails.
    if (options.write) {
      writeBenchmarkSectionPart('sync', 'Sync engine', context.name, text, order);
      process.stdout.write(`docs/benchmarks.md updated: ${context.title}.\n\n`);
    }
  }
  return 0;
}

async function removeQueue(channel: SyncChannel): Promise<void> {
  const redis: Redis = createRedis({
    url: channel.redisUrl,
    role: 'client',
    connectionName: 'strangler-bench-cleanup',
  });
  redis.on('error', () => {});
  const queue = new Queue(queueNameOf(channel), { connection: redis, prefix: channel.queuePrefix });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    redis.disconnect();
  }
  await deleteRedisKeys(channel.redisUrl, channel.queuePrefix ?? '');
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`error: ${(err as Error).message} (pnpm bench:sync --help)\n`);
    process.exitCode = 2;
  } else if (stop.signal.aborted) {
    status.done(`stopped: ${describe(stop.signal.reason)}; the scratch databases and queue keys were removed`);
    process.exitCode = 130;
  } else {
    status.done(`error: ${describe(err)}`);
    process.exitCode = 1;
  }
}
