import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadFlagsConfig, startUnleashServer, UnleashAdminApi } from '@strangler/flags';
import { createKnex, databaseUrlFor, redactUrl } from '@strangler/foundation';
import { migrateLatest, SEED_PASSWORD, SeedRefusedError, seedDatabase } from '@strangler/migrations';
import { resolvePostgres, tcpAnswers } from './lib/postgres.ts';
import { type ManagedProcess, startProcess, waitUntilReady } from './lib/processes.ts';
import { type TryItData, tryItLines } from './lib/try-it.ts';

const HELP = `Usage: pnpm demo [options]      (on a fresh clone: ./run demo)

Starts the whole stack with seed data and prints what to try:
  ShopCo, the legacy monolith      http://127.0.0.1:3000
  the users service, extracted     http://127.0.0.1:3001  (its own database)
  the products service, extracted  http://127.0.0.1:3002  (its own database)
  Unleash, the flag server         http://127.0.0.1:4242  (admin UI)
  the edge router, in front        http://127.0.0.1:8080  (send traffic here)
  a sync worker per context        (carries changes both ways once capture is on)
Ctrl-C stops everything the demo started. Move users and products through the
stages with \`pnpm strangler\` while it runs (the lines under "Try it" start
with it). ShopCo's orders take stock from whichever side owns products.

Postgres: DATABASE_URL when set, else the local server on 127.0.0.1:5432,
else an embedded Postgres (data kept in .strangler/embedded-postgres).
Unleash: UNLEASH_URL when set (with UNLEASH_ADMIN_TOKEN and
UNLEASH_CLIENT_TOKEN), else one started here on its own database.
Redis: REDIS_URL when set, else 127.0.0.1:6379 (\`./run demo\` starts a
redis-server there when none answers).

Options:
  --port <n>             ShopCo's port (default 3000)
  --service-port <n>     the users service's port (default 3001)
  --products-port <n>    the products service's port (default 3002)
  --router-port <n>      the edge router's port (default 8080)
  --unleash-port <n>     the Unleash started here (default 4242)
  --guard-port <n>       the guarded rollout's /metrics (default 3090)
  --database <name>      database name on the local or embedded server (default shopco);
                         the services' are <name>_users and <name>_products, the
                         toolkit's own strangler (<name>_strangler for another name)
  --reset                delete the demo data and seed it again
  --users/--products/--orders <n>
                         seed scale when seeding (default 200 / 100 / 500)
  --embedded-postgres    use the embedded Postgres even when another one answers
  -h, --help             show this help
`;

const ROOT = resolve(import.meta.dirname, '..');
const STATE_DIR = join(ROOT, '.strangler');
/** The demo's admin token for the router's /_strangler API; printed, so never use it elsewhere. */
const DEMO_ADMIN_TOKEN = 'strangler-demo-admin-token';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parsePositive(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

function parsePort(name: string, value: string): number {
  const port = parsePositive(name, value);
  if (port < 1 || port > 65535) throw new Error(`--${name} must be a port from 1 to 65535, got ${port}`);
  return port;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '3000' },
      'service-port': { type: 'string', default: '3001' },
      'products-port': { type: 'string', default: '3002' },
      'router-port': { type: 'string', default: '8080' },
      'unleash-port': { type: 'string', default: '4242' },
      'guard-port': { type: 'string', default: '3090' },
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
  const ports = {
    monolith: parsePort('port', values.port),
    service: parsePort('service-port', values['service-port']),
    products: parsePort('products-port', values['products-port']),
    router: parsePort('router-port', values['router-port']),
    unleash: parsePort('unleash-port', values['unleash-port']),
    guard: parsePort('guard-port', values['guard-port']),
  };
  const scale = {
    users: parsePositive('users', values.users),
    products: parsePositive('products', values.products),
    orders: parsePositive('orders', values.orders),
  };
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(values.database)) throw new Error('--database must be a plain lower-case name');
  const flagsConfig = loadFlagsConfig(process.env);

  const logDir = join(STATE_DIR, 'logs');
  await mkdir(logDir, { recursive: true });
  const started: Array<{ name: string; stop(): Promise<void> }> = [];
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
    // Front to back: the router first, Postgres last.
    for (const p of [...started].reverse()) await p.stop().catch(() => {});
    await postgres.stop().catch(() => {});
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  const watch = (proc: ManagedProcess) => {
    proc.child.once('exit', (code) => {
      if (!stopping) {
        say(`${proc.name} exited unexpectedly (code ${code}); see ${proc.logFile}`);
        void stopAll(1);
      }
    });
  };

  try {
    say(`postgres: ${postgres.describe}`);
    const migrated = await migrateLatest('monolith', postgres.url);
    say(
      `schema:   ${migrated.created ? 'created the database, ' : ''}${migrated.applied.length ? `applied ${migrated.applied.join(', ')}` : 'up to date'}`,
    );
    await seedIfEmpty(postgres.url, scale, values.reset);
    const tryIt = await tryItData(postgres.url);

    let unleashUrl = flagsConfig.UNLEASH_URL;
    if (flagsConfig.UNLEASH_URL_GIVEN) {
      say(`unleash:  UNLEASH_URL (${redactUrl(unleashUrl)})`);
    } else {
      say(`unleash:  starting on port ${ports.unleash} (the first start takes a few seconds)...`);
      const unleash = await startUnleashServer({
        databaseUrl: databaseUrlFor(postgres.url, 'strangler_unleash'),
        port: ports.unleash,
        adminToken: flagsConfig.UNLEASH_ADMIN_TOKEN,
        clientToken: flagsConfig.UNLEASH_CLIENT_TOKEN,
        adminUser: { username: flagsConfig.UNLEASH_ADMIN_USERNAME, password: flagsConfig.UNLEASH_ADMIN_PASSWORD },
      });
      started.push({ name: 'unleash', stop: () => unleash.stop() });
      unleashUrl = unleash.url;
      say(`unleash:  ${unleashUrl}  (logs: ${unleash.logFile})`);
    }
    const created = await new UnleashAdminApi({
      url: unleashUrl,
      token: flagsConfig.UNLEASH_ADMIN_TOKEN,
    }).ensureFlags();
    const added = created.filter((f) => f.action !== 'present').length;
    say(`flags:    ${created.length} flags ready${added ? ` (${added} created, all off)` : ''}`);

    const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
    const redisAddress = new URL(redisUrl);
    if (!(await tcpAnswers(redisAddress.hostname, Number(redisAddress.port || 6379)))) {
      throw new Error(
        `Redis does not answer at ${redactUrl(redisUrl)}: the sync and the write fence need it. Start redis-server, set REDIS_URL, or use ./run demo, which starts one`,
      );
    }
    say(`redis:    ${redactUrl(redisUrl)}`);

    // Named after the monolith's database, wherever it came from (--database, DATABASE_URL).
    const monolithDb = decodeURIComponent(new URL(postgres.url).pathname.slice(1)) || values.database;
    const usersDbUrl = databaseUrlFor(postgres.url, `${monolithDb}_users`);
    const usersSchema = await migrateLatest('users', usersDbUrl);
    const serviceUrl = `http://127.0.0.1:${ports.service}`;
    const service = startProcess(
      'users-service',
      join(ROOT, 'extracted/users/src/server.ts'),
      { DATABASE_URL: usersDbUrl, PORT: String(ports.service), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      join(logDir, 'users-service.log'),
    );
    started.push(service);
    watch(service);
    await waitUntilReady(service, `${serviceUrl}/ready`);
    say(
      `users:    ${serviceUrl}  (database ${monolithDb}_users${usersSchema.created ? ', created' : ''}; logs: ${service.logFile})`,
    );

    const productsDbUrl = databaseUrlFor(postgres.url, `${monolithDb}_products`);
    const productsSchema = await migrateLatest('products', productsDbUrl);
    const productsUrl = `http://127.0.0.1:${ports.products}`;
    const products = startProcess(
      'products-service',
      join(ROOT, 'extracted/products/src/server.ts'),
      { DATABASE_URL: productsDbUrl, PORT: String(ports.products), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      join(logDir, 'products-service.log'),
    );
    started.push(products);
    watch(products);
    await waitUntilReady(products, `${productsUrl}/ready`);
    say(
      `products: ${productsUrl}  (database ${monolithDb}_products${productsSchema.created ? ', created' : ''}; logs: ${products.logFile})`,
    );

    const monolithUrl = `http://127.0.0.1:${ports.monolith}`;
    const monolith = startProcess(
      'shopco',
      join(ROOT, 'monolith/src/server.ts'),
      {
        DATABASE_URL: postgres.url,
        PORT: String(ports.monolith),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        // Its orders take stock from whoever owns products: ShopCo until products reaches `writes`.
        PRODUCTS_SERVICE_URL: productsUrl,
        REDIS_URL: redisUrl,
        UNLEASH_URL: unleashUrl,
        UNLEASH_CLIENT_TOKEN: flagsConfig.UNLEASH_CLIENT_TOKEN,
        FLAG_BACKUP_PATH: join(STATE_DIR, 'shopco-flags-backup.json'),
      },
      join(logDir, 'shopco.log'),
    );
    started.push(monolith);
    watch(monolith);
    await waitUntilReady(monolith, `${monolithUrl}/ready`);
    say(`shopco:   ${monolithUrl}  (logs: ${monolith.logFile})`);

    // What `pnpm strangler` and the sync worker need to find this stack; printed before the commands that need it.
    const stranglerEnv: Record<string, string> = {
      DATABASE_URL: postgres.url,
      USERS_DATABASE_URL: usersDbUrl,
      PRODUCTS_DATABASE_URL: productsDbUrl,
      STRANGLER_DATABASE_URL: databaseUrlFor(postgres.url, controlDatabaseOf(monolithDb)),
      REDIS_URL: redisUrl,
      UNLEASH_URL: unleashUrl,
      UNLEASH_ADMIN_TOKEN: flagsConfig.UNLEASH_ADMIN_TOKEN,
    };
    for (const context of ['users', 'products']) {
      const worker = startProcess(
        `${context}-sync-worker`,
        join(ROOT, 'migrations/src/cli/sync-worker.ts'),
        stranglerEnv,
        join(logDir, `${context}-sync-worker.log`),
        [context],
      );
      started.push(worker);
      watch(worker);
      say(`sync:     a ${context} sync worker, waiting for capture (logs: ${worker.logFile})`);
    }
    // The guarded rollout (docs/adr/0015): sets a context's reads back when the service does worse.
    const guard = startProcess(
      'guard',
      join(ROOT, 'migrations/src/cli/strangler.ts'),
      stranglerEnv,
      join(logDir, 'guard.log'),
      ['guard', '--watch', '--metrics-port', String(ports.guard)],
    );
    started.push(guard);
    watch(guard);
    await waitUntilReady(guard, `http://127.0.0.1:${ports.guard}/health`);
    say(
      `guard:    watching canary and reads; metrics on http://127.0.0.1:${ports.guard}/metrics (logs: ${guard.logFile})`,
    );

    const routerUrl = `http://127.0.0.1:${ports.router}`;
    const router = startProcess(
      'edge-router',
      join(ROOT, 'edge-router/src/server.ts'),
      {
        // What the dashboard's buttons and status run `pnpm strangler` with.
        ...stranglerEnv,
        PORT: String(ports.router),
        HOST: '127.0.0.1',
        MONOLITH_URL: monolithUrl,
        USERS_SERVICE_URL: serviceUrl,
        PRODUCTS_SERVICE_URL: productsUrl,
        REDIS_URL: redisUrl,
        UNLEASH_URL: unleashUrl,
        UNLEASH_CLIENT_TOKEN: flagsConfig.UNLEASH_CLIENT_TOKEN,
        ADMIN_TOKEN: DEMO_ADMIN_TOKEN,
        LOG_LEVEL: 'info',
      },
      join(logDir, 'edge-router.log'),
    );
    started.push(router);
    watch(router);
    await waitUntilReady(router, `${routerUrl}/ready`);
    say(`router:   ${routerUrl}  (logs: ${router.logFile})`);

    say('');
    say(`Send traffic to the router, ${routerUrl}: it reaches ShopCo until a flag moves it.`);
    say(`The migration dashboard: ${routerUrl}/_strangler/  (sign in with the admin token ${DEMO_ADMIN_TOKEN})`);
    if (!flagsConfig.UNLEASH_URL_GIVEN) {
      say(
        `Unleash admin UI: ${unleashUrl}  (log in as ${flagsConfig.UNLEASH_ADMIN_USERNAME} / ${flagsConfig.UNLEASH_ADMIN_PASSWORD})`,
      );
    }
    if (tryIt.login) say(`A ShopCo login: ${tryIt.login.email} / ${tryIt.login.password}`);
    say('');
    say('Try it:');
    say('');
    const cliEnv = cliEnvLine(stranglerEnv);
    if (cliEnv) {
      say('`pnpm strangler` needs to know where this stack is; in the shell you run it from, first:');
      say('');
      say(`  ${cliEnv}`);
      say('');
    }
    for (const line of tryItLines(routerUrl, tryIt, { adminToken: DEMO_ADMIN_TOKEN })) say(`  ${line}`);
    say('');
    say('Press Ctrl-C to stop.');
  } catch (err) {
    say(`demo failed: ${(err as Error).message}`);
    await stopAll(1);
  }
}

/** The CLI's defaults (migrations/src/cli/strangler/config.ts): an `export` line only for what differs. */
const CLI_DEFAULTS: Record<string, string> = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/shopco',
  USERS_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/shopco_users',
  PRODUCTS_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/shopco_products',
  STRANGLER_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/strangler',
  REDIS_URL: 'redis://127.0.0.1:6379',
  UNLEASH_URL: 'http://127.0.0.1:4242',
  UNLEASH_ADMIN_TOKEN: '*:*.strangler-admin-dev',
};

/** The toolkit's own database: `strangler` (the CLI's default) next to the default `shopco`, else `<name>_strangler`. */
function controlDatabaseOf(database: string): string {
  return database === 'shopco' ? 'strangler' : `${database}_strangler`;
}

function cliEnvLine(env: Record<string, string>): string | null {
  // Whatever this process was given: the reader runs the CLI from another terminal, which has none of it.
  const differ = Object.entries(env).filter(([k, v]) => CLI_DEFAULTS[k] !== v);
  if (differ.length === 0) return null;
  return `export ${differ.map(([k, v]) => `${k}='${v}'`).join(' ')}`;
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
