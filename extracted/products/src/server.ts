import { redactUrl, serve } from '@strangler/foundation';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

await serve({
  name: 'products-service',
  loadConfig,
  build: (config, logger) => buildApp(config, { logger, collectDefaultMetrics: true }),
  describe: (config) => ({ database: redactUrl(config.DATABASE_URL) }),
});
