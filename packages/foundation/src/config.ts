/**
 * Typed configuration from environment variables.
 *
 * Each service declares its variables once with these readers and calls
 * `readConfig` from its own `config.ts`, which is the only file in that service
 * that touches `process.env`. Every problem is collected and reported at once,
 * so a misconfigured deployment fails at start with one clear message.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Reader<T> = (env: Env, name: string) => T;

interface Options<T> {
  default?: T;
  /** Description shown when the value is missing or wrong. */
  doc?: string;
}

class Problem extends Error {}

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function required<T>(name: string, opts: Options<T>): T {
  if (opts.default !== undefined) return opts.default;
  throw new Problem(`${name} is required${opts.doc ? ` (${opts.doc})` : ''}`);
}

export function str(opts: Options<string> = {}): Reader<string> {
  return (env, name) => raw(env, name) ?? required(name, opts);
}

/** Whether `env` describes a production process: NODE_ENV=production, nothing else. */
export function isProduction(env: Env): boolean {
  return raw(env, 'NODE_ENV') === 'production';
}

/**
 * A secret (a signing key, an API token, a password). The rule for every
 * secret of the project (docs/security.md): it comes from the environment
 * only. Outside production a missing one falls back to `development`, a
 * value published in this repository so a checkout runs with no setup;
 * with NODE_ENV=production that value is refused, set or defaulted, and a
 * missing secret is a configuration error, unless `optionalInProduction`,
 * for a secret only some deployments use: then it reads as "" and the code
 * that needs it refuses to run with a clear message (`requireSecret`).
 */
export function secret(opts: {
  development: string;
  doc: string;
  minLength?: number;
  optionalInProduction?: boolean;
}): Reader<string> {
  return (env, name) => {
    const value = raw(env, name);
    if (isProduction(env)) {
      if (value === opts.development) {
        throw new Problem(
          `${name} is the development default, which is public; set a secret of your own in production (${opts.doc})`,
        );
      }
      if (value === undefined) {
        if (opts.optionalInProduction) return '';
        throw new Problem(`${name} must be set in production (${opts.doc}); it has a default only for development`);
      }
    }
    const resolved = value ?? opts.development;
    if (opts.minLength !== undefined && resolved.length < opts.minLength) {
      throw new Problem(`${name} must be at least ${opts.minLength} characters`);
    }
    return resolved;
  };
}

/**
 * The value of a secret read with `optionalInProduction`, for the code that
 * needs it: a ConfigError naming the variable when it was not set.
 */
export function requireSecret(value: string, name: string, doc: string): string {
  if (value === '') throw new ConfigError([`${name} must be set (${doc}); production has no development default`]);
  return value;
}

export function optionalStr(): Reader<string | undefined> {
  return (env, name) => raw(env, name);
}

export function int(opts: Options<number> & { min?: number; max?: number } = {}): Reader<number> {
  return (env, name) => {
    const value = raw(env, name);
    if (value === undefined) return required(name, opts);
    if (!/^-?\d+$/.test(value)) throw new Problem(`${name} must be an integer, got "${value}"`);
    const n = Number(value);
    if (opts.min !== undefined && n < opts.min) throw new Problem(`${name} must be >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) throw new Problem(`${name} must be <= ${opts.max}, got ${n}`);
    return n;
  };
}

/** A decimal number, e.g. `0.999` or `50`. */
export function num(opts: Options<number> & { min?: number; max?: number } = {}): Reader<number> {
  return (env, name) => {
    const value = raw(env, name);
    if (value === undefined) return required(name, opts);
    if (!/^-?\d+(\.\d+)?$/.test(value)) throw new Problem(`${name} must be a number, got "${value}"`);
    const n = Number(value);
    if (opts.min !== undefined && n < opts.min) throw new Problem(`${name} must be >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) throw new Problem(`${name} must be <= ${opts.max}, got ${n}`);
    return n;
  };
}

export function bool(opts: Options<boolean> = {}): Reader<boolean> {
  return (env, name) => {
    const value = raw(env, name)?.toLowerCase();
    if (value === undefined) return required(name, opts);
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    throw new Problem(`${name} must be true or false, got "${value}"`);
  };
}

export function oneOf<const T extends string>(values: readonly T[], opts: Options<T> = {}): Reader<T> {
  return (env, name) => {
    const value = raw(env, name);
    if (value === undefined) return required(name, opts);
    if (!(values as readonly string[]).includes(value)) {
      throw new Problem(`${name} must be one of ${values.join(', ')}, got "${value}"`);
    }
    return value as T;
  };
}

export function url(opts: Options<string> & { protocols?: readonly string[] } = {}): Reader<string> {
  return (env, name) => {
    const value = raw(env, name);
    if (value === undefined) return required(name, opts);
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new Problem(`${name} must be a URL, got "${redactUrl(value)}"`);
    }
    if (opts.protocols && !opts.protocols.includes(parsed.protocol.replace(/:$/, ''))) {
      throw new Problem(`${name} must use ${opts.protocols.join(' or ')}, got "${parsed.protocol}"`);
    }
    return value;
  };
}

export type Schema = Record<string, Reader<unknown>>;
export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: S[K] extends Reader<infer T> ? T : never };

/** Reads every variable of `schema` from `env`; throws one ConfigError listing all problems. */
export function readConfig<S extends Schema>(schema: S, env: Env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, reader] of Object.entries(schema)) {
    try {
      out[name] = reader(env, name);
    } catch (err) {
      if (err instanceof Problem) problems.push(err.message);
      else throw err;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as ConfigOf<S>;
}

/** Hides the password of a connection URL so it can be logged or printed. */
export function redactUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return value.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}
