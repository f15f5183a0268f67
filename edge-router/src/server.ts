import { createFlagClient } from '@strangler/flags';
import { ConfigError, closeOnSignals, createLogger } from '@strangler/foundation';
import { buildApp } from './app.ts';
import { loadConfig, type RouterConfig } from './config.ts';

async function main(): Promise<void> {
  let config: RouterConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`edge-router: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ name: 'edge-router', level: config.LOG_LEVEL });
  const flags = createFlagClient({
    url: config.UNLEASH_URL,
    clientToken: config.UNLEASH_CLIENT_TOKEN,
    refreshMs: config.FLAG_REFRESH_MS,
    backupPath: config.FLAG_BACKUP_PATH,
    logger,
  });
  const app = await buildApp(config, { flags, logger, collectDefaultMetrics: true });
  closeOnSignals(
    async () => {
      await app.close();
      await flags.close();
    },
    { logger },
  );
  try {
    await app.listen({ host: config.HOST, port: config.PORT });
  } catch (err) {
    const code = (err as { code?: string }).code;
    logger.fatal(
      code === 'EADDRINUSE'
        ? `port ${config.PORT} is in use; stop what uses it or set PORT`
        : `could not listen: ${(err as Error).message}`,
    );
    process.exit(1);
  }
  logger.info(
    { monolith: config.MONOLITH_URL, users: config.USERS_SERVICE_URL, products: config.PRODUCTS_SERVICE_URL },
    'edge-router is up',
  );
}

await main();
