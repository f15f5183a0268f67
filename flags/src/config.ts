import { isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  type ConfigOf,
  type Env,
  int,
  optionalStr,
  readConfig,
  secret,
  str,
  url,
} from '@strangler/foundation';

/**
 * The only place this package reads the environment. Relative paths are
 * resolved against the repository root, not the working directory, so the
 * router, the CLI and the tests started from anywhere share one backup file
 * and one log folder (`.strangler/`, like the demo's).
 */

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const STATE_DIR = resolve(REPO_ROOT, '.strangler');

export const DEFAULT_BACKUP_PATH = '.strangler/flags-backup.json';

/**
 * The development values of the Unleash secrets: what `pnpm unleash`, the demo
 * and the tests create a local Unleash with. Public, so refused with
 * NODE_ENV=production (docs/security.md). Each is `optionalInProduction`: a
 * process reads only the Unleash secret it uses (the router and ShopCo the
 * client token, the CLIs the admin token), and refuses to run without it.
 */
export const DEVELOPMENT_UNLEASH_ADMIN_TOKEN = '*:*.strangler-admin-dev';
export const DEVELOPMENT_UNLEASH_CLIENT_TOKEN = 'default:development.strangler-client-dev';
export const DEVELOPMENT_UNLEASH_ADMIN_PASSWORD = 'unleash4all';

export const ADMIN_TOKEN_DOC = 'an admin API token of Unleash, or your personal access token, for the flags CLI';
export const CLIENT_TOKEN_DOC = 'a backend API token for project default, environment development, for the router';

const schema = {
  /** Where clients and the CLI find Unleash; default: the local one on UNLEASH_HOST:UNLEASH_PORT. */
  UNLEASH_URL: optionalStr(),
  UNLEASH_ADMIN_TOKEN: secret({
    development: DEVELOPMENT_UNLEASH_ADMIN_TOKEN,
    doc: ADMIN_TOKEN_DOC,
    optionalInProduction: true,
  }),
  UNLEASH_CLIENT_TOKEN: secret({
    development: DEVELOPMENT_UNLEASH_CLIENT_TOKEN,
    doc: CLIENT_TOKEN_DOC,
    optionalInProduction: true,
  }),
  /** Where `pnpm unleash` listens. Loopback by default: the dev admin login is public knowledge. */
  UNLEASH_HOST: str({ default: '127.0.0.1' }),
  UNLEASH_PORT: int({ default: 4242, min: 1, max: 65535 }),
  UNLEASH_DATABASE_URL: url({
    default: 'postgres://postgres@127.0.0.1:5432/strangler_unleash',
    protocols: ['postgres', 'postgresql'],
    doc: "Unleash's own database, created when missing",
  }),
  /** The admin UI login Unleash creates on its first start against an empty database. */
  UNLEASH_ADMIN_USERNAME: str({ default: 'admin' }),
  UNLEASH_ADMIN_PASSWORD: secret({
    development: DEVELOPMENT_UNLEASH_ADMIN_PASSWORD,
    doc: 'the admin UI password a new local Unleash is created with',
    optionalInProduction: true,
  }),
  /** How often the flag client polls; the router sees a change within about this plus Unleash's 1 s revision tick. */
  FLAG_REFRESH_MS: int({ default: 1000, min: 100, max: 3_600_000 }),
  FLAG_BACKUP_PATH: str({ default: DEFAULT_BACKUP_PATH }),
};

export type FlagsConfig = Readonly<
  Omit<ConfigOf<typeof schema>, 'UNLEASH_URL'> & {
    UNLEASH_URL: string;
    /** Whether UNLEASH_URL was given (use that Unleash) rather than derived (the local one we start). */
    UNLEASH_URL_GIVEN: boolean;
  }
>;

export function loadFlagsConfig(env: Env): FlagsConfig {
  const raw = readConfig(schema, env);
  const unleashUrl = raw.UNLEASH_URL ?? `http://${hostForUrl(raw.UNLEASH_HOST)}:${raw.UNLEASH_PORT}`;
  let parsed: URL;
  try {
    parsed = new URL(unleashUrl);
  } catch {
    throw new ConfigError([`UNLEASH_URL must be a URL, got "${unleashUrl}"`]);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError([`UNLEASH_URL must use http or https, got "${parsed.protocol}"`]);
  }
  return Object.freeze({
    ...raw,
    // Unleash's own URLs have no trailing slash; `new URL(path, base)` would drop a base path without it.
    UNLEASH_URL: unleashUrl.replace(/\/+$/, ''),
    UNLEASH_URL_GIVEN: raw.UNLEASH_URL !== undefined,
    FLAG_BACKUP_PATH: resolveFromRoot(raw.FLAG_BACKUP_PATH),
  });
}

/** `path` as given when absolute, else relative to the repository root. */
export function resolveFromRoot(path: string): string {
  return isAbsolute(path) ? path : resolve(REPO_ROOT, path);
}

/** A listen address as a URL host: 0.0.0.0 is not an address to connect to. */
function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
