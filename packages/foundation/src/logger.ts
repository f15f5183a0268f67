import { type Logger, type LoggerOptions, pino } from 'pino';

/**
 * Paths pino removes from every log line. Passwords, password hashes, tokens and
 * authorization headers must never reach a log, whatever logged them.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  'passwordHash',
  'password_hash',
  'token',
  'card',
  '*.password',
  '*.passwordHash',
  '*.password_hash',
  '*.token',
  '*.card',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-admin-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

export interface LoggerConfig {
  name: string;
  level?: string;
}

export function loggerOptions({ name, level = 'info' }: LoggerConfig): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
}

export function createLogger(config: LoggerConfig, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(config), destination) : pino(loggerOptions(config));
}

export type { Logger };
