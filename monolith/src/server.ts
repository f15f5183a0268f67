import { createFlagClient, type FlagClient, loadFlagsConfig } from '@strangler/flags';
import { redactUrl, serve } from '@strangler/foundation';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

let flags: FlagClient | undefined;

await serve({
  name: 'shopco',
  loadConfig,
  build: (config, logger) => {
    // Only mid-extraction of products: stock follows the products write flag.
    if (config.PRODUCTS_SERVICE_URL !== undefined) {
      const flagsConfig = loadFlagsConfig(process.env);
      flags = createFlagClient({
        url: flagsConfig.UNLEASH_URL,
        clientToken: flagsConfig.UNLEASH_CLIENT_TOKEN,
        refreshMs: flagsConfig.FLAG_REFRESH_MS,
        // Its own backup file: the routers keep theirs.
        backupPath: process.env.FLAG_BACKUP_PATH ?? '.strangler/shopco-flags-backup.json',
        logger,
      });
    }
    return buildApp(config, { logger, collectDefaultMetrics: true, ...(flags ? { flags } : {}) });
  },
  afterClose: async () => {
    await flags?.close();
  },
  describe: (config) => ({
    database: redactUrl(config.DATABASE_URL),
    stock: config.PRODUCTS_SERVICE_URL ? `follows the products write owner (${config.PRODUCTS_SERVICE_URL})` : 'local',
  }),
});
