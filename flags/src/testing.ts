import { join } from 'node:path';
import { databaseUrlFor, type Env, withAdminClient } from '@strangler/foundation';
import { freePort } from '@strangler/foundation/testing';
import { UnleashAdminApi } from './admin-api.ts';
import { loadFlagsConfig, STATE_DIR } from './config.ts';
import { startUnleashServer } from './unleash-server.ts';

/**
 * The Unleash a test run uses: UNLEASH_URL when set, else one started for
 * the run on a free port with its own database, named like every test
 * database (`strangler_t_<unix seconds>_...`) so the stale-database sweep
 * drops it should the run be killed. Either way the flags exist (ensureFlags).
 */

export interface TestUnleash {
  url: string;
  adminToken: string;
  clientToken: string;
  /** Stops the Unleash we started and drops its database; nothing for a given UNLEASH_URL. */
  stop(): Promise<void>;
}

export async function resolveTestUnleash(postgresUrl: string, env: Env): Promise<TestUnleash> {
  const config = loadFlagsConfig(env);
  const tokens = { adminToken: config.UNLEASH_ADMIN_TOKEN, clientToken: config.UNLEASH_CLIENT_TOKEN };
  if (config.UNLEASH_URL_GIVEN) {
    await new UnleashAdminApi({ url: config.UNLEASH_URL, token: tokens.adminToken }).ensureFlags();
    return { url: config.UNLEASH_URL, ...tokens, stop: async () => {} };
  }

  const database = `strangler_t_${Math.floor(Date.now() / 1000)}_unleash_${process.pid}`;
  const databaseUrl = databaseUrlFor(postgresUrl, database);
  const dropDatabase = () =>
    withAdminClient(postgresUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
  const started = Date.now();
  try {
    const unleash = await startUnleashServer({
      databaseUrl,
      port: await freePort(),
      ...tokens,
      logFile: join(STATE_DIR, 'logs', 'unleash-test.log'),
    });
    await new UnleashAdminApi({ url: unleash.url, token: tokens.adminToken }).ensureFlags().catch(async (err) => {
      await unleash.stop();
      throw err;
    });
    console.log(`[tests] Unleash started on ${unleash.url} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return {
      url: unleash.url,
      ...tokens,
      stop: async () => {
        await unleash.stop();
        await dropDatabase();
      },
    };
  } catch (err) {
    await dropDatabase().catch(() => {});
    throw err;
  }
}
