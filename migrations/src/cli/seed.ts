import { parseArgs } from 'node:util';
import { redactUrl } from '@strangler/foundation';
import { Presets, SingleBar } from 'cli-progress';
import { loadCliConfig } from '../config.ts';
import { migrateLatest } from '../migrator.ts';
import { type SeedProgress, SeedRefusedError, type SeedReport, seedDatabase } from '../seed/load.ts';
import { fail, runCli } from './run-cli.ts';

const HELP = `Usage: pnpm seed [options]

Fills ShopCo's database with generated demo data: users, products, orders,
order items and payments. The same --seed and sizes always give the same rows.
Creates the database and applies pending migrations first.

Options:
  --users <n>            users to create (default: 200)
  --products <n>         products to create (default: 100)
  --orders <n>           orders to create, with their items and payments (default: 500)
  --seed <n>             random seed (default: 42)
  --database-url <url>   connection URL (default: $DATABASE_URL, else
                         postgres://postgres@127.0.0.1:5432/shopco)
  --reset                delete every user, product, order, order item and
                         payment first (a database with data is refused otherwise)
  --quiet                no progress bar: one line per table
  -h, --help             show this help

Every seeded user's password is "shopco-demo".
`;

/** Ids are Postgres `integer`s. */
const MAX_ROWS = 2_147_483_647;

function count(flag: string, text: string, max = MAX_ROWS): number {
  if (!/^\d+$/.test(text)) fail(`--${flag} must be a non-negative integer, got "${text}"`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value > max) fail(`--${flag} must be at most ${max}, got ${text}`);
  return value;
}

const number = (n: number): string => n.toLocaleString('en-US');
const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const rate = (rows: number, ms: number): string => (ms > 0 ? number(Math.round((rows * 1000) / ms)) : '-');

interface ProgressDisplay {
  onProgress: SeedProgress;
  /** Takes a bar off the screen, e.g. before an error is printed. */
  stop(): void;
}

/** One bar per table, redrawn in place: only for a terminal. */
function progressBars(): ProgressDisplay {
  let bar: SingleBar | undefined;
  let started = 0;
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
  };
  return {
    stop,
    onProgress(table, done, total) {
      if (done === 0) {
        stop();
        started = performance.now();
        bar = new SingleBar(
          {
            format: `${table.padEnd(11)} [{bar}] {percentage}% | {rows} rows | {rate} rows/s | ETA {eta_formatted}`,
            stream: process.stdout,
            barsize: 30,
            hideCursor: true,
            etaBuffer: 20,
          },
          Presets.shades_classic,
        );
        bar.start(total, 0, { rows: `0/${number(total)}`, rate: '-' });
      } else {
        bar?.update(done, { rows: `${number(done)}/${number(total)}`, rate: rate(done, performance.now() - started) });
      }
      if (done === total) stop();
    },
  };
}

/** A line per finished table: for logs, pipes and --quiet. */
function progressLines(): ProgressDisplay {
  let started = 0;
  return {
    stop() {},
    onProgress(table, done, total) {
      if (done === 0) started = performance.now();
      if (done !== total) return;
      const ms = performance.now() - started;
      console.log(
        `${table.padEnd(11)} ${number(total).padStart(11)} rows in ${seconds(ms)} s (${rate(total, ms)} rows/s)`,
      );
    },
  };
}

function printSummary(report: SeedReport): void {
  const header = ['table', 'rows', 'seconds', 'rows/s'];
  const totalRows = report.tables.reduce((sum, t) => sum + t.rows, 0);
  const body = [
    ...report.tables.map((t) => [t.table, number(t.rows), seconds(t.ms), rate(t.rows, t.ms)]),
    ['total', number(totalRows), seconds(report.totalMs), rate(totalRows, report.totalMs)],
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(`\n${line(header)}`);
  for (const row of body.slice(0, -1)) console.log(line(row));
  console.log(line(body[body.length - 1] ?? []));
  console.log('(total includes planning, sequence resets and ANALYZE)');
  if (report.demoLogin) {
    console.log(`\nLog in as ${report.demoLogin.email} with password "${report.demoLogin.password}".`);
  }
}

await runCli(async (argv) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      users: { type: 'string', default: '200' },
      products: { type: 'string', default: '100' },
      orders: { type: 'string', default: '500' },
      seed: { type: 'string', default: '42' },
      'database-url': { type: 'string' },
      reset: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const users = count('users', values.users);
  const products = count('products', values.products);
  const orders = count('orders', values.orders);
  const seed = count('seed', values.seed, Number.MAX_SAFE_INTEGER);
  if (orders > 0 && (users === 0 || products === 0)) {
    fail('orders need users and products to reference: with --orders above 0, --users and --products must be too');
  }
  const url = values['database-url'] ?? loadCliConfig(process.env).DATABASE_URL;

  const { created, applied } = await migrateLatest('monolith', url);
  if (created) console.log(`Created database ${redactUrl(url)}`);
  if (applied.length) console.log(`Applied ${applied.length} migration(s): ${applied.join(', ')}`);

  const display = process.stdout.isTTY && !values.quiet ? progressBars() : progressLines();
  console.log(`Seeding ${redactUrl(url)} (seed ${seed})`);
  let report: SeedReport;
  try {
    report = await seedDatabase({
      databaseUrl: url,
      users,
      products,
      orders,
      seed,
      reset: values.reset,
      onProgress: display.onProgress,
    });
  } catch (err) {
    if (err instanceof SeedRefusedError) {
      const { users, products, orders } = err.existing;
      fail(
        `the database already has ${number(users)} users, ${number(products)} products and ${number(orders)} ` +
          'orders. Pass --reset to delete every user, product, order, order item and payment and seed from scratch.',
      );
    }
    throw err;
  } finally {
    display.stop();
  }
  printSummary(report);
}, HELP);
