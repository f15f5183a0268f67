import { ConfigError, closeOnSignals, createLogger, redactUrl } from '@strangler/foundation';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`users-service: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ name: 'users-service', level: config.LOG_LEVEL });
  const app = await buildApp(config, { logger, collectDefaultMetrics: true });
  closeOnSignals(() => app.close(), { logger });
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
  logger.info({ database: redactUrl(config.DATABASE_URL) }, 'users service is up');
}

await main();
