import { randomUUID } from 'node:crypto';
import { createKnex, hashPassword, type Knex } from '@strangler/foundation';
import { freshDatabase, type TestDatabase, testServerUrls } from '@strangler/foundation/testing';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usersForward } from '../../src/contexts/users.ts';
import {
  ApplyWorker,
  DEAD_LETTERS_TABLE,
  installCapture,
  listDeadLetters,
  OutboxRelay,
  queueNameOf,
  queuePrefixOf,
  reconcile,
  type SyncChannel,
  type SyncMapping,
} from '../../src/sync/index.ts';
import { waitFor } from './harness.ts';

/**
 * Password hashes travel monolith → users service (a user keeps their
 * password), but never in what operators see of the sync: dead letters (in
 * `pnpm strangler status` and a refused cutover), reconcile reports, and
 * BullMQ's job data. The real users mapping and the real
 * users schema, on real Postgres and Redis.
 */

let monolithDb: TestDatabase;
let usersDb: TestDatabase;
let monolithKnex: Knex;
let usersKnex: Knex;
let channel: SyncChannel;
let hash: string;
const SECRET_PARTS: string[] = [];

/** The users mapping as a careless mapping might be written: its error quotes the whole row. */
const quotingMapping: SyncMapping = {
  ...usersForward,
  toTarget(row) {
    if (String(row.full_name).startsWith('Unmappable')) throw new Error(`cannot map row ${JSON.stringify(row)}`);
    return usersForward.toTarget(row);
  },
};

function expectNoHash(what: string, value: unknown): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  for (const part of SECRET_PARTS) expect(text, what).not.toContain(part);
}

beforeAll(async () => {
  [monolithDb, usersDb] = await Promise.all([freshDatabase('monolith'), freshDatabase('users')]);
  monolithKnex = createKnex({ url: monolithDb.url, pool: { max: 4 } });
  usersKnex = createKnex({ url: usersDb.url, pool: { max: 4 } });
  hash = await hashPassword('a-users-password');
  // The whole hash, its salt and its key: Postgres quotes rows cut short, so a prefix is a leak too.
  SECRET_PARTS.push(hash, hash.split('$')[4] as string, (hash.split('$')[5] as string).slice(0, 16));
  channel = {
    name: 'users-redaction',
    direction: 'forward',
    sourceUrl: monolithDb.url,
    targetUrl: usersDb.url,
    redisUrl: testServerUrls().redisUrl,
    mappings: [quotingMapping],
    queuePrefix: `test-redaction-${randomUUID().slice(0, 8)}`,
  };
  await installCapture(monolithKnex, channel);
}, 60_000);

afterAll(async () => {
  if (channel) {
    const queue = new Queue(queueNameOf(channel), {
      connection: { url: channel.redisUrl },
      prefix: queuePrefixOf(channel),
    });
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
  await monolithKnex?.destroy();
  await usersKnex?.destroy();
  await Promise.all([monolithDb?.drop(), usersDb?.drop()]);
});

async function insertUser(fullName: string): Promise<number> {
  const [row] = await monolithKnex('users')
    .insert({ email: `${randomUUID().slice(0, 8)}@example.test`, full_name: fullName, password_hash: hash })
    .returning('id');
  return (row as { id: number }).id;
}

describe('password hashes in what operators see of the sync', () => {
  it('never reach a dead letter or a BullMQ job, whether the mapping or the target refused the row', async () => {
    // The target refuses this one; Postgres's error detail quotes the whole row, hash included.
    await usersKnex.raw("ALTER TABLE users ADD CONSTRAINT refuse_rejected CHECK (first_name <> 'Rejected')");
    const relay = new OutboxRelay(channel, { pollIntervalMs: 50, jobOptions: { attempts: 1, backoffMs: 10 } });
    const worker = new ApplyWorker(channel, { concurrency: 2 });
    await relay.start();
    await worker.start();
    try {
      const fine = await insertUser('Ada Lovelace');
      const unmappable = await insertUser('Unmappable Person');
      const rejected = await insertUser('Rejected Person');
      await waitFor('two dead letters', async () => (await listDeadLetters(channel)).length === 2);
      await waitFor('the fine row applied', async () => (await usersKnex('users').where({ id: fine })).length === 1);

      const letters = await listDeadLetters(channel);
      expect(letters.map((l) => l.key).sort()).toEqual([String(unmappable), String(rejected)].sort());
      expect(letters.find((l) => l.key === String(unmappable))?.reason).toMatch(/cannot map row .*\[redacted\]/);
      expect(letters.find((l) => l.key === String(rejected))?.reason).toMatch(/refuse_rejected/);
      expectNoHash('dead letters as listed', letters);
      expectNoHash('dead letters as stored', await monolithKnex(DEAD_LETTERS_TABLE).select());

      const queue = new Queue(queueNameOf(channel), {
        connection: { url: channel.redisUrl },
        prefix: queuePrefixOf(channel),
      });
      try {
        // Failed jobs are removed (the dead letter is their record); the kept ones carry the key, not the row.
        const jobs = await queue.getJobs(['completed', 'failed', 'waiting', 'delayed', 'active'], 0, -1);
        expect(jobs.length).toBeGreaterThanOrEqual(1);
        for (const job of jobs) {
          expect(Object.keys(job.data).sort()).toEqual(['key', 'op', 'outboxId', 'table']);
          expectNoHash(`job ${job.id}`, { data: job.data, failedReason: job.failedReason, stacktrace: job.stacktrace });
        }
      } finally {
        await queue.close();
      }
    } finally {
      await worker.close();
      await relay.stop();
      await usersKnex.raw('ALTER TABLE users DROP CONSTRAINT refuse_rejected');
    }
  });

  it('redacts a dead letter stored before redaction existed, when it is read', async () => {
    await monolithKnex(DEAD_LETTERS_TABLE).insert({
      channel: channel.name,
      table_name: 'users',
      row_key: '999999',
      outbox_id: null,
      reason: `users 999999: mapping "users" threw: bad row {"password_hash":"${hash}"}`,
      attempts: 1,
    });
    const letters = await listDeadLetters(channel);
    expect(letters.find((l) => l.key === '999999')?.reason).toContain('[redacted]');
    expectNoHash('an old dead letter', letters);
  });

  it('reports drift by key, never by row', async () => {
    const id = await insertUser('Grace Hopper');
    await waitFor('the row to exist', async () => (await monolithKnex('users').where({ id })).length === 1);
    // No worker runs now: the row is missing at the target, and another differs by its hash alone.
    await usersKnex('users').insert({
      id: 424242,
      email: 'drift@example.test',
      first_name: 'Drift',
      last_name: '',
      password_hash: hash,
      created_at: new Date(),
      updated_at: new Date(),
    });
    const report = await reconcile(channel, { rangeSize: 100, settleMs: 0 });
    expect(report.tables[0]?.missing).toContain(String(id));
    expect(report.tables[0]?.extra).toEqual(['424242']);
    expectNoHash('the reconcile report', report);
  });
});
