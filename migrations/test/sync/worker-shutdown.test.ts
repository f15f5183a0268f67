import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKnex, createRedis, type Knex } from '@strangler/foundation';
import { freshDatabase, type TestDatabase, testServerUrls } from '@strangler/foundation/testing';
import { joinName } from '@strangler/users-service/name';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextRegistry } from '../../src/stages/contexts.ts';
import { OUTBOX_TABLE } from '../../src/sync/capture.ts';
import { captureLag, installCapture, openSyncQueue, type SyncChannel } from '../../src/sync/index.ts';
import { expectNoDrift, insertUsers, startWriter, type Writer, waitFor } from './harness.ts';

/**
 * SIGTERM to a real `pnpm sync:worker users` process in the middle of an
 * apply, while the monolith keeps changing users: the test holds one user's
 * row in the service, so the worker's apply of that user waits on the lock.
 * The worker must not exit while it waits; once the lock is released it
 * applies the job, stops, and exits 0. A new worker then carries whatever
 * the first one left (the outbox keeps what was not relayed, the queue what
 * was not applied): reconcile finds no drift. Times are reported, not
 * asserted; the bounds are generous timeouts.
 */

const WORKER = join(import.meta.dirname, '../../src/cli/sync-worker.ts');
const PREFIX = `sync-shutdown-test-${process.pid}`;

let monolithDb: TestDatabase;
let serviceDb: TestDatabase;
let controlDb: TestDatabase;
let monolith: Knex;
let service: Knex;
let channel: SyncChannel;
let logDir: string;
const children: ChildProcess[] = [];

interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

function startWorker(): WorkerProcess {
  const child = spawn(process.execPath, [WORKER, 'users'], {
    env: {
      PATH: process.env.PATH ?? '',
      STRANGLER_DATABASE_URL: controlDb.url,
      DATABASE_URL: monolithDb.url,
      USERS_DATABASE_URL: serviceDb.url,
      REDIS_URL: testServerUrls().redisUrl,
      SYNC_QUEUE_PREFIX: PREFIX,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
  }
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, output: () => output, exited };
}

/** Sessions of the worker's apply (not this test's) waiting for a lock in the service database. */
async function appliesWaitingForLock(): Promise<number> {
  const { rows } = await service.raw<{ rows: Array<{ n: number }> }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name LIKE 'strangler-apply%'`,
  );
  return rows[0]?.n ?? 0;
}

beforeAll(async () => {
  [monolithDb, serviceDb, controlDb] = await Promise.all([
    freshDatabase('monolith'),
    freshDatabase('users'),
    freshDatabase('control'),
  ]);
  monolith = createKnex({ url: monolithDb.url, pool: { max: 4 } });
  service = createKnex({ url: serviceDb.url, pool: { max: 3 } });
  channel = contextRegistry({
    monolithUrl: monolithDb.url,
    usersUrl: serviceDb.url,
    productsUrl: 'postgres://127.0.0.1:1/unused',
    redisUrl: testServerUrls().redisUrl,
    queuePrefix: PREFIX,
  }).users.channels.forward;
  await installCapture(monolith, channel);
  logDir = mkdtempSync(join(tmpdir(), 'strangler-worker-shutdown-'));
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all([monolith?.destroy(), service?.destroy()]);
  await Promise.all([monolithDb?.drop(), serviceDb?.drop(), controlDb?.drop()]);
  if (logDir) rmSync(logDir, { recursive: true, force: true });
}, 60_000);

describe('pnpm sync:worker on SIGTERM', () => {
  it('finishes the apply it is in, exits 0, and loses nothing: the next worker leaves no drift', async () => {
    const first = startWorker();
    await waitFor('the worker to run users-forward', async () =>
      /users-forward \(forward\): relay and/.test(first.output()),
    );
    const ids = await insertUsers(monolith, 'shutdown', 20);
    const held = ids[0] as number;
    await waitFor(
      'the first users to be applied',
      async () => (await service('users').where({ id: held }).first()) !== undefined,
    );
    const writer: Writer = startWriter(monolith, { seed: 7, prefix: 'shutdown-writer', ids: ids.slice(1) });

    // Catch an apply midway: the service's row of `held` locked here, then that user changed in the monolith.
    const hold = await service.transaction();
    let signalledAt = 0;
    let releasedAt = 0;
    try {
      await hold('users').where({ id: held }).forUpdate().first('id');
      await monolith('users').where({ id: held }).update({ full_name: 'Held During Shutdown' });
      await waitFor('an apply blocked on the held row', async () => (await appliesWaitingForLock()) > 0);

      signalledAt = Date.now();
      first.child.kill('SIGTERM');
      await waitFor('the worker to say it is stopping', async () => /SIGTERM: finishing the jobs/.test(first.output()));
      // It waits for the apply it is in rather than exit and leave it: a second on, it still runs, still blocked.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(first.child.exitCode).toBeNull();
      expect(await appliesWaitingForLock()).toBeGreaterThan(0);
    } finally {
      await hold.rollback();
      releasedAt = Date.now();
    }
    const [code, signal] = await first.exited;
    const stoppedAfterMs = Date.now() - signalledAt;
    const stoppedAfterReleaseMs = Date.now() - releasedAt;
    expect({ code, signal }, first.output()).toEqual({ code: 0, signal: null });
    expect(first.output()).toMatch(/users-forward: stopped; relayed \d+ \(requeued \d+\), applied \d+/);
    // It handed back nothing half done: no job is left active (locked to it) in the queue.
    const redis = createRedis({ url: channel.redisUrl, role: 'client' });
    const queue = openSyncQueue(channel, redis);
    const jobs = await queue.getJobCounts('active', 'waiting').finally(async () => {
      await queue.close();
      redis.disconnect();
    });
    expect(jobs.active).toBe(0);
    // The job it was in is done: the held user's change reached the service before the process ended.
    const heldRow = await service('users').where({ id: held }).first('first_name', 'last_name');
    expect(joinName({ firstName: heldRow?.first_name, lastName: heldRow?.last_name })).toBe('Held During Shutdown');

    // Changes went on while it stopped; a new worker takes what is left.
    const writes = await writer.stop();
    const left = await captureLag(channel);
    const second = startWorker();
    try {
      await waitFor(
        'the next worker to apply the outbox',
        async () => (await captureLag(channel)).unappliedRows === 0,
        60_000,
      );
      await expectNoDrift(channel);
    } finally {
      second.child.kill('SIGTERM');
    }
    const [secondCode] = await second.exited;
    expect(secondCode, second.output()).toBe(0);
    const captured = await monolith(OUTBOX_TABLE).where({ channel: channel.name }).count<{ n: string }[]>('* as n');
    console.log(
      `sync worker shutdown: exit 0 ${stoppedAfterMs} ms after SIGTERM, ${stoppedAfterReleaseMs} ms after the held row was released; ` +
        `${writes.ops} changes written meanwhile, ${left.unappliedRows} of ${captured[0]?.n} captured left for the next worker ` +
        `(${jobs.waiting} of them relayed, waiting in the queue; the rest in the outbox)`,
    );
  }, 120_000);
});
