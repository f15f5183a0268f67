import { createFlagClient, type FlagClient } from '@strangler/flags';
import { serve } from '@strangler/foundation';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

let flags: FlagClient | undefined;

await serve({
  name: 'edge-router',
  loadConfig,
  build: (config, logger) => {
    flags = createFlagClient({
      url: config.UNLEASH_URL,
      clientToken: config.UNLEASH_CLIENT_TOKEN,
      refreshMs: config.FLAG_REFRESH_MS,
      backupPath: config.FLAG_BACKUP_PATH,
      logger,
    });
    return buildApp(config, { flags, logger, collectDefaultMetrics: true });
  },
  // Closing waits for every request in flight, and a request's own bounds end it: a read may wait for the
  // service, then fall back to the monolith; a write may be held by a cutover, then wait for its owner.
  // Two seconds more, so the last of them is answered (504 at worst) before the process exits: the HTTP
  // client's timers fire up to a second late, and a fallen-back read waits on two of them.
  closeTimeoutMs: (config) =>
    Math.max(
      config.SERVICE_TIMEOUT_MS + config.MONOLITH_TIMEOUT_MS,
      config.WRITE_HOLD_MAX_MS + Math.max(config.SERVICE_TIMEOUT_MS, config.MONOLITH_TIMEOUT_MS),
    ) + 2_000,
  afterClose: async () => {
    await flags?.close();
  },
  describe: (config) => ({
    monolith: config.MONOLITH_URL,
    users: config.USERS_SERVICE_URL,
    products: config.PRODUCTS_SERVICE_URL,
  }),
});
