import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { loadConfig as loadRouterConfig } from '../../edge-router/src/config.ts';
import { loadConfig as loadProductsConfig } from '../../extracted/products/src/config.ts';
import { loadConfig as loadUsersConfig } from '../../extracted/users/src/config.ts';
import { loadFlagsConfig } from '../../flags/src/config.ts';
import { loadStranglerConfig } from '../../migrations/src/cli/strangler/config.ts';
import { loadCliConfig } from '../../migrations/src/config.ts';
import { CONTEXT_NAMES, contextRegistry } from '../../migrations/src/stages/contexts.ts';
import { queueNameOf, queuePrefixOf } from '../../migrations/src/sync/channel.ts';
import { loadConfig as loadMonolithConfig } from '../../monolith/src/config.ts';
import { type Env, requireSecret } from '../../packages/foundation/src/config.ts';
import { REPO_ROOT } from './kustomize.ts';

/**
 * What the deployment files may start, and what each of those processes
 * needs and serves, taken from the code wherever it can be: its config
 * loader decides whether an environment is complete, and each served path is
 * backed by a line of the source that serves it.
 */

/** Where a probe path is served: a source file (from the repository root) and a line it must contain. */
interface Evidence {
  file: string;
  contains: string;
}

export interface EntryPoint {
  /** Loads the process's configuration from `env` as the process would; throws what it would refuse. */
  config(env: Env, args: readonly string[]): Record<string, unknown>;
  /** Config values the process uses that must be given (their defaults point at 127.0.0.1). */
  uses(args: readonly string[]): readonly string[];
  /** The HTTP paths it serves, with the evidence; none for a process without HTTP. */
  serves: Readonly<Record<string, Evidence>>;
  /** The port it listens on, from its environment and arguments; null without HTTP. */
  listenPort(env: Env, args: readonly string[]): number | null;
  /** Whether it accepts options (and so has a --help that lists them). */
  hasHelp: boolean;
}

const FOUNDATION_SERVICE: Readonly<Record<string, Evidence>> = {
  '/health': { file: 'packages/foundation/src/http/observability.ts', contains: "app.get('/health'" },
  '/ready': { file: 'packages/foundation/src/http/observability.ts', contains: "app.get('/ready'" },
  '/metrics': { file: 'packages/foundation/src/http/observability.ts', contains: "app.get('/metrics'" },
};

const portOf = (env: Env): number => Number(env.PORT);
const argAfter = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];
const unleashRoutes = (): string => join(unleashServerDir(), 'dist/lib/routes/index.js');

function unleashServerDir(): string {
  const entry = createRequire(join(REPO_ROOT, 'flags/package.json')).resolve('unleash-server');
  return join(entry, '..', '..', '..');
}

const strangler = (env: Env) => {
  const c = loadStranglerConfig(env);
  return { ...c, UNLEASH_URL: c.flags.UNLEASH_URL, UNLEASH_ADMIN_TOKEN: c.flags.UNLEASH_ADMIN_TOKEN };
};
const SYNC_DATABASES = ['DATABASE_URL', 'USERS_DATABASE_URL', 'PRODUCTS_DATABASE_URL', 'STRANGLER_DATABASE_URL'];

export const ENTRY_POINTS: Readonly<Record<string, EntryPoint>> = {
  'monolith/src/server.ts': {
    config: (env) => {
      const c = loadMonolithConfig(env);
      // With PRODUCTS_SERVICE_URL ShopCo starts a flag client (monolith/src/server.ts), which needs its token.
      if (c.PRODUCTS_SERVICE_URL === undefined) return c;
      const flags = loadFlagsConfig(env);
      requireSecret(flags.UNLEASH_CLIENT_TOKEN, 'UNLEASH_CLIENT_TOKEN', 'the flag client of ShopCo');
      return { ...c, UNLEASH_URL: flags.UNLEASH_URL };
    },
    uses: () => ['HOST', 'DATABASE_URL', 'PRODUCTS_SERVICE_URL', 'REDIS_URL', 'UNLEASH_URL'],
    serves: FOUNDATION_SERVICE,
    listenPort: portOf,
    hasHelp: false,
  },
  'extracted/users/src/server.ts': {
    config: (env) => loadUsersConfig(env),
    uses: () => ['HOST', 'DATABASE_URL'],
    serves: FOUNDATION_SERVICE,
    listenPort: portOf,
    hasHelp: false,
  },
  'extracted/products/src/server.ts': {
    config: (env) => loadProductsConfig(env),
    uses: () => ['HOST', 'DATABASE_URL'],
    serves: FOUNDATION_SERVICE,
    listenPort: portOf,
    hasHelp: false,
  },
  'edge-router/src/server.ts': {
    config: (env) => loadRouterConfig(env),
    uses: () => ['HOST', 'MONOLITH_URL', 'USERS_SERVICE_URL', 'PRODUCTS_SERVICE_URL', 'UNLEASH_URL', 'REDIS_URL'],
    serves: {
      '/health': { file: 'edge-router/src/app.ts', contains: 'register(observability' },
      '/ready': { file: 'edge-router/src/app.ts', contains: 'readiness: [' },
      '/metrics': { file: 'edge-router/src/app.ts', contains: 'register(observability' },
    },
    listenPort: portOf,
    hasHelp: false,
  },
  'migrations/src/cli/sync-worker.ts': {
    config: strangler,
    uses: () => [...SYNC_DATABASES, 'REDIS_URL'],
    serves: {},
    listenPort: () => null,
    hasHelp: true,
  },
  'migrations/src/cli/strangler.ts': {
    config: (env, args) => {
      const c = strangler(env);
      // The guard moves stages and flags: the admin token is needed (flags/src/admin-api.ts refuses without).
      if (args.includes('guard')) requireSecret(c.UNLEASH_ADMIN_TOKEN, 'UNLEASH_ADMIN_TOKEN', 'the guard');
      return c;
    },
    uses: () => [...SYNC_DATABASES, 'REDIS_URL', 'UNLEASH_URL'],
    serves: {
      '/health': { file: 'migrations/src/cli/strangler/guard.ts', contains: "req.url === '/health'" },
      '/metrics': { file: 'migrations/src/cli/strangler/guard.ts', contains: "req.url === '/metrics'" },
    },
    listenPort: (_env, args) => (args.includes('--metrics-port') ? Number(argAfter(args, '--metrics-port')) : null),
    hasHelp: true,
  },
  'migrations/src/cli/migrate.ts': {
    config: (env) => loadCliConfig(env),
    uses: () => ['DATABASE_URL'],
    serves: {},
    listenPort: () => null,
    hasHelp: true,
  },
  'flags/src/unleash-cli.ts': {
    config: (env) => {
      const c = loadFlagsConfig(env);
      // The launcher refuses to create an Unleash without all three (flags/src/unleash-cli.ts).
      for (const name of ['UNLEASH_ADMIN_TOKEN', 'UNLEASH_CLIENT_TOKEN', 'UNLEASH_ADMIN_PASSWORD'] as const) {
        requireSecret(c[name], name, 'the Unleash launcher');
      }
      return c;
    },
    uses: () => ['UNLEASH_HOST', 'UNLEASH_DATABASE_URL'],
    serves: {
      '/health': { file: unleashRoutes(), contains: "this.use('/health'" },
      '/ready': { file: unleashRoutes(), contains: "this.use('/ready'" },
    },
    listenPort: (env) => Number(env.UNLEASH_PORT ?? 4242),
    hasHelp: true,
  },
};

/** Whether a line of evidence is really in its file (absolute, or from the repository root). */
export function evidenceHolds(e: Evidence): boolean {
  const path = e.file.startsWith('/') ? e.file : join(REPO_ROOT, e.file);
  return readFileSync(path, 'utf8').includes(e.contains);
}

/** Every script of the workspace's package.json files, by the file it runs with node (from the repository root). */
export function scriptedEntryPoints(): Set<string> {
  const found = new Set<string>();
  const packages = ['', 'monolith', 'edge-router', 'extracted/users', 'extracted/products', 'migrations', 'flags'];
  for (const dir of packages) {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    for (const script of Object.values(pkg.scripts ?? {})) {
      const m = /^node (\S+\.ts)/.exec(script);
      if (m?.[1]) found.add(dir ? `${dir}/${m[1]}` : m[1]);
    }
  }
  return found;
}

const helpCache = new Map<string, string>();

/** The --help text of an entry point (of its subcommand, e.g. `strangler.ts guard`), run with this Node. */
export function helpOf(entry: string, args: readonly string[]): string {
  const leading = args
    .slice(
      0,
      Math.max(
        0,
        args.findIndex((a) => a.startsWith('-')),
      ),
    )
    .slice(0, 1);
  const argv = [join(REPO_ROOT, entry), ...leading, '--help'];
  let text = helpCache.get(argv.join(' '));
  if (text === undefined) {
    text = execFileSync(process.execPath, argv, { encoding: 'utf8', timeout: 30_000 });
    helpCache.set(argv.join(' '), text);
  }
  return text;
}

/** The BullMQ wait lists (the queue depth KEDA reads) of a context's channels, for a queue prefix. */
export function waitListsOf(context: string, prefix: string | undefined): string[] {
  if (!(CONTEXT_NAMES as readonly string[]).includes(context)) throw new Error(`unknown context ${context}`);
  const urls = { monolithUrl: 'postgres://x/a', usersUrl: 'postgres://x/b', productsUrl: 'postgres://x/c' };
  const registry = contextRegistry({ ...urls, redisUrl: 'redis://x', ...(prefix ? { queuePrefix: prefix } : {}) });
  const { forward, reverse } = registry[context as (typeof CONTEXT_NAMES)[number]].channels;
  return [forward, reverse].map((channel) => waitKey(queuePrefixOf(channel), queueNameOf(channel)));
}

interface QueueKeysClass {
  new (prefix: string): { toKey(name: string, type: string): string };
}

/** BullMQ's own key naming (QueueKeys), from the version the sync engine uses. */
function waitKey(prefix: string, queue: string): string {
  const bullmq = createRequire(join(REPO_ROOT, 'migrations/package.json'))('bullmq') as { QueueKeys: QueueKeysClass };
  return new bullmq.QueueKeys(prefix).toKey(queue, 'wait');
}
