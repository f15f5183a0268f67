import { parseArgs } from 'node:util';
import { ConfigError, redactUrl, requireSecret } from '@strangler/foundation';
import { UnleashAdminApi } from './admin-api.ts';
import { DEVELOPMENT_UNLEASH_ADMIN_PASSWORD, loadFlagsConfig } from './config.ts';
import { FlagsError } from './errors.ts';
import { type RunningUnleash, startUnleashServer } from './unleash-server.ts';

const HELP = `Usage: pnpm unleash [options]

Starts Unleash (unleash-server from npm) in the foreground against the local
Postgres, creates the migration flags when missing, and prints the admin UI
URL and login. Ctrl-C stops it. Its log goes to .strangler/logs/unleash.log.

Options:
  --no-init              do not create missing flags (pnpm flags init does it later)
  -h, --help             show this help

Environment (defaults in brackets):
  UNLEASH_HOST / UNLEASH_PORT       where it listens [127.0.0.1 / 4242]
  UNLEASH_DATABASE_URL              its database, created when missing
                                    [postgres://postgres@127.0.0.1:5432/strangler_unleash]
  UNLEASH_ADMIN_TOKEN               admin API token [*:*.strangler-admin-dev]
  UNLEASH_CLIENT_TOKEN              backend token for the router [default:development.strangler-client-dev]
  UNLEASH_ADMIN_USERNAME / _PASSWORD
                                    the UI login [admin / unleash4all]
  The tokens and the login are created on the first start against an empty
  database only; drop the database to change them.
`;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { 'no-init': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = loadFlagsConfig(process.env);
  // With NODE_ENV=production there are no development secrets to create a new Unleash with.
  for (const [name, value] of [
    ['UNLEASH_ADMIN_TOKEN', config.UNLEASH_ADMIN_TOKEN],
    ['UNLEASH_CLIENT_TOKEN', config.UNLEASH_CLIENT_TOKEN],
    ['UNLEASH_ADMIN_PASSWORD', config.UNLEASH_ADMIN_PASSWORD],
  ] as const) {
    requireSecret(value, name, 'production has no development default for the Unleash this command creates');
  }
  say(
    `starting Unleash on ${config.UNLEASH_HOST}:${config.UNLEASH_PORT} (database ${redactUrl(config.UNLEASH_DATABASE_URL)})...`,
  );
  const started = Date.now();
  const unleash: RunningUnleash = await startUnleashServer({
    databaseUrl: config.UNLEASH_DATABASE_URL,
    host: config.UNLEASH_HOST,
    port: config.UNLEASH_PORT,
    adminToken: config.UNLEASH_ADMIN_TOKEN,
    clientToken: config.UNLEASH_CLIENT_TOKEN,
    adminUser: { username: config.UNLEASH_ADMIN_USERNAME, password: config.UNLEASH_ADMIN_PASSWORD },
  });
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('\nstopping Unleash...');
    await unleash.stop();
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  unleash.process.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`error: Unleash exited (${code ?? signal}); see ${unleash.logFile}`);
    process.exit(1);
  });

  if (!values['no-init']) {
    const api = new UnleashAdminApi({ url: unleash.url, token: config.UNLEASH_ADMIN_TOKEN });
    const created = (await api.ensureFlags().catch(stopAndRethrow(unleash))).filter((r) => r.action === 'created');
    if (created.length > 0)
      say(`created ${created.length} missing flag(s), all disabled: ${created.map((r) => r.name).join(', ')}`);
  }
  say('');
  say(
    `Unleash is up on ${unleash.url} after ${((Date.now() - started) / 1000).toFixed(1)} s  (log: ${unleash.logFile})`,
  );
  // The public development password is worth printing; a password of your own is not printed.
  const password =
    config.UNLEASH_ADMIN_PASSWORD === DEVELOPMENT_UNLEASH_ADMIN_PASSWORD
      ? config.UNLEASH_ADMIN_PASSWORD
      : '<UNLEASH_ADMIN_PASSWORD>';
  say(`Admin UI: ${unleash.url}  login ${config.UNLEASH_ADMIN_USERNAME} / ${password}`);
  say('         (the login is created on the first start of a database; later changes of it are ignored)');
  say(`Flags:    pnpm flags list        (UNLEASH_URL=${unleash.url})`);
  if (config.UNLEASH_URL_GIVEN && config.UNLEASH_URL !== unleash.url) {
    say(`Note:     UNLEASH_URL is set to ${config.UNLEASH_URL}: the flags CLI and the router use that one, not this.`);
  }
  say('');
  say('Press Ctrl-C to stop.');
  // Stay in the foreground until a signal; the child process keeps the event loop busy.
  return new Promise<number>(() => {});
}

/** A failure after the start must not leave Unleash running without us. */
function stopAndRethrow(unleash: RunningUnleash): (err: unknown) => Promise<never> {
  return async (err) => {
    await unleash.stop();
    throw err;
  };
}

try {
  process.exitCode = await main();
} catch (err) {
  if (err instanceof ConfigError) console.error(`error: invalid configuration: ${err.problems.join('; ')}`);
  else if (err instanceof FlagsError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`error: ${(err as Error).message}`);
  } else console.error(`error: ${(err as Error).message ?? String(err)}`);
  process.exitCode = 1;
}
