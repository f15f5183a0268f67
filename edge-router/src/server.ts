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
  afterClose: async () => {
    await flags?.close();
  },
  describe: (config) => ({
    monolith: config.MONOLITH_URL,
    users: config.USERS_SERVICE_URL,
    products: config.PRODUCTS_SERVICE_URL,
  }),
});
