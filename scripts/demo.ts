import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createKnex } from '@strangler/foundation';
import { migrateLatest, SEED_PASSWORD, SeedRefusedError, seedDatabase } from '@strangler/migrations';
import { resolvePostgres } from './lib/postgres.ts';
import { type ManagedProcess, startProcess, waitUntilReady } from './lib/processes.ts';
import { type TryItData, tryItLines } from './lib/try-it.ts';

const HELP = `Usage: pnpm demo [options]      (on a fresh clone: ./run demo)

Starts ShopCo, the legacy monolith, with seed data, and prints what to try.
Ctrl-C stops everything the demo started.

Postgres: DATABASE_URL when set, else the local server on 127.0.0.1:5432,
else an embedded Postgres (data kept in .strangler/embedded-postgres).

Options:
  --port <n>             ShopCo's port (default 3000)
  --database <name>      database name on the local or embedded server (default shopco)
  --reset                delete the demo data and seed it again
  --users/--products/--orders <n>
                         seed scale when seeding (default 200 / 100 / 500)
  --embedded-postgres    use the embedded Postgres even when another one answers
  -h, --help             show this help
`;

const ROOT = resolve(import.meta.dirname, '..');
const STATE_DIR = join(ROOT, '.strangler');

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parsePositive(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '3000' },
      database: { type: 'string', default: 'shopco' },
      reset: { type: 'boolean', default: false },
      users: { type: 'string', default: '200' },
      products: { type: 'string', default: '100' },
      orders: { type: 'string', default: '500' },
      'embedded-postgres': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const port = parsePositive('port', values.port);
  const scale = {
    users: parsePositive('users', values.users),
    products: parsePositive('products', values.products),
    orders: parsePositive('orders', values.orders),
  };
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(values.database)) throw new Error('--database must be a plain lower-case name');

  const logDir = join(STATE_DIR, 'logs');
  await mkdir(logDir, { recursive: true });
  const started: ManagedProcess[] = [];
  const postgres = await resolvePostgres({
    databaseUrl: process.env.DATABASE_URL,
    database: values.database,
    forceEmbedded: values['embedded-postgres'],
    stateDir: STATE_DIR,
    log: say,
  });
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nstopping the demo...');
    await Promise.allSettled(started.map((p) => p.stop()));
    await postgres.stop().catch(() => {});
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    say(`postgres: ${postgres.describe}`);
    const migrated = await migrateLatest('monolith', postgres.url);
    say(
      `schema:   ${migrated.created ? 'created the database, ' : ''}${migrated.applied.length ? `applied ${migrated.applied.join(', ')}` : 'up to date'}`,
    );
    await seedIfEmpty(postgres.url, scale, values.reset);
    const tryIt = await tryItData(postgres.url);

    const monolith = startProcess(
      'shopco',
      join(ROOT, 'monolith/src/server.ts'),
      { DATABASE_URL: postgres.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      join(logDir, 'shopco.log'),
    );
    started.push(monolith);
    monolith.child.once('exit', (code) => {
      if (!stopping) {
        say(`shopco exited unexpectedly (code ${code}); see ${monolith.logFile}`);
        void stopAll(1);
      }
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitUntilReady(monolith, `${baseUrl}/ready`);

    say('');
    say(`ShopCo is up on ${baseUrl}  (logs: ${monolith.logFile})`);
    if (tryIt.login) say(`Log in as ${tryIt.login.email} / ${tryIt.login.password}`);
    say('');
    say('Try it:');
    say('');
    for (const line of tryItLines(baseUrl, tryIt)) say(`  ${line}`);
    say('');
    say('Press Ctrl-C to stop.');
  } catch (err) {
    say(`demo failed: ${(err as Error).message}`);
    await stopAll(1);
  }
}

async function seedIfEmpty(
  url: string,
  scale: { users: number; products: number; orders: number },
  reset: boolean,
): Promise<void> {
  try {
    const report = await seedDatabase({ databaseUrl: url, ...scale, seed: 42, reset });
    say(
      `seed:     ${report.tables.map((t) => `${t.rows} ${t.table}`).join(', ')} in ${(report.totalMs / 1000).toFixed(1)} s`,
    );
  } catch (err) {
    if (!(err instanceof SeedRefusedError)) throw err;
    say('seed:     the database already has data; keeping it (--reset seeds again)');
  }
}

/** The first seeded user and a product with stock left, for the printed examples. */
async function tryItData(url: string): Promise<TryItData> {
  const knex = createKnex({ url, pool: { max: 1 } });
  try {
    const user = await knex('users').orderBy('id').first('id', 'email');
    const product = await knex('products').where('stock', '>', 1).orderBy('stock', 'desc').first('id');
    return {
      login: user ? { userId: user.id, email: user.email, password: SEED_PASSWORD } : null,
      productId: product?.id ?? null,
    };
  } finally {
    await knex.destroy();
  }
}

await main();
