import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  /** Longest time the close may take before the process exits anyway. */
  timeoutMs?: number;
  signals?: readonly NodeJS.Signals[];
}

/**
 * Closes the process gracefully on SIGTERM / SIGINT: runs `close` once (stop
 * accepting work, finish what is in flight, release connections), then exits.
 * A second signal, or a close that outlives `timeoutMs`, exits at once.
 */
export function closeOnSignals(close: () => Promise<void>, options: ShutdownOptions): void {
  const { logger, timeoutMs = 10_000, signals = ['SIGTERM', 'SIGINT'] } = options;
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn({ signal }, 'second signal while closing; exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, 'closing');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'close did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => {
        logger.info('closed');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}
