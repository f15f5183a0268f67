import type { FastifyInstance } from 'fastify';
import { ConfigError, type Env } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { closeOnSignals } from './shutdown.ts';

export interface ServedConfig {
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
}

export interface ServeOptions<C extends ServedConfig> {
  /** Names the process in logs and in the one-line config error. */
  name: string;
  loadConfig: (env: Env) => C;
  build: (config: C, logger: Logger) => Promise<FastifyInstance>;
  /** Released after the app has closed (e.g. a flag client). */
  afterClose?: () => Promise<void>;
  /**
   * How long closing may take before the process exits anyway (default 10 s):
   * at least the longest a request can take, or the requests still in flight
   * at that moment are cut off without an answer.
   */
  closeTimeoutMs?: (config: C) => number;
  /** Logged once listening, with the line "<name> is up". */
  describe?: (config: C) => Record<string, unknown>;
}

/**
 * What every `server.ts` does: read the config (a bad one is one line on
 * stderr and exit code 2), build the app, close it gracefully on SIGTERM and
 * SIGINT, listen, and say so. Only `server.ts` files call this.
 */
export async function serve<C extends ServedConfig>(options: ServeOptions<C>, env: Env = process.env): Promise<void> {
  let config: C;
  try {
    config = options.loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${options.name}: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ name: options.name, level: config.LOG_LEVEL });
  let app: FastifyInstance;
  try {
    app = await options.build(config, logger);
  } catch (err) {
    // A client built here may check its own settings (a secret production must set): the same clear refusal.
    if (err instanceof ConfigError) {
      console.error(`${options.name}: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  closeOnSignals(
    async () => {
      await app.close();
      await options.afterClose?.();
    },
    { logger, ...(options.closeTimeoutMs ? { timeoutMs: options.closeTimeoutMs(config) } : {}) },
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
  logger.info(options.describe?.(config) ?? {}, `${options.name} is up`);
}
