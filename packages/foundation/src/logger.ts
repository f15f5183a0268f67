import { type Logger, type LoggerOptions, pino, stdSerializers } from 'pino';
import { REDACTED, redactDeep, redactText } from './redact.ts';

/**
 * Paths pino removes from every log line after serialization (Fastify's
 * `req` and `res` serializers run after `formatters.log`, so headers they
 * add are caught here). Everything else goes through `redactDeep`, at any
 * depth, with the project's one list of sensitive keys (redact.ts).
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

type SerializedError = Record<string, unknown>;

/**
 * Postgres puts the offending row in an error's `detail` ("Failing row
 * contains (7, ada@example.com, scrypt$...)") and sometimes in `where`; a
 * failed insert into users would log the password hash. Those fields are
 * dropped from every logged error and its causes; the rest is redacted.
 */
const ROW_CARRYING_FIELDS = ['detail', 'where', 'internalQuery'];

export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return redactDeep(err);
  return scrubError(stdSerializers.err(err) as SerializedError);
}

function scrubError(serialized: SerializedError): SerializedError {
  const out: SerializedError = {};
  for (const [key, value] of Object.entries(serialized)) {
    if (ROW_CARRYING_FIELDS.includes(key) && value !== undefined && value !== null) out[key] = REDACTED;
    else if (typeof value === 'string') out[key] = redactText(value);
    else if (value && typeof value === 'object' && !Array.isArray(value) && 'message' in value) {
      out[key] = scrubError(value as SerializedError);
    } else out[key] = redactDeep(value);
  }
  return redactDeep(out);
}

export interface LoggerConfig {
  name: string;
  level?: string;
}

export function loggerOptions({ name, level = 'info' }: LoggerConfig): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    serializers: { err: serializeError, error: serializeError },
    formatters: { log: (object) => redactDeep(object) },
    // The message text too: `log.warn(\`... ${err.message}\`)` must not carry a hash or a token.
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as typeof args;
        return method.apply(this, redacted);
      },
    },
  };
}

export function createLogger(config: LoggerConfig, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(config), destination) : pino(loggerOptions(config));
}

export type { Logger };
