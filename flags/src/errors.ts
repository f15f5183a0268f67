import { FLAG_DEFINITIONS, shortFlagName } from './definitions.ts';

/**
 * The failures of talking to Unleash that a person can fix, as small named
 * classes (callers switch on the class or on `code`; the CLI prints
 * `message` as one line). Codes carry this package's `FLAGS_` prefix.
 */

export class FlagsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A flag name that is not in FLAG_DEFINITIONS. */
export class UnknownFlagError extends FlagsError {
  readonly flag: string;
  constructor(flag: string) {
    const names = FLAG_DEFINITIONS.map((d) => shortFlagName(d.name)).join(', ');
    super(
      'FLAGS_UNKNOWN_FLAG',
      `unknown flag "${flag}"; the flags are: ${names} (the "strangler." prefix is optional)`,
    );
    this.flag = flag;
  }
}

/** Unleash did not answer: not running, wrong URL, or too slow. */
export class UnleashUnreachableError extends FlagsError {
  readonly url: string;
  constructor(url: string, reason: string, options?: ErrorOptions) {
    super(
      'FLAGS_UNLEASH_UNREACHABLE',
      `cannot reach Unleash at ${url} (${reason}). Start one with \`pnpm unleash\`, or set UNLEASH_URL to a running one.`,
      options,
    );
    this.url = url;
  }
}

/** Unleash refused the token (401/403). */
export class UnleashAuthError extends FlagsError {
  readonly status: number;
  constructor(url: string, status: number, variable: string, detail: string) {
    super(
      'FLAGS_UNLEASH_AUTH',
      `Unleash at ${url} refused the token in ${variable} (${status}${detail ? `: ${detail}` : ''}). ` +
        `Set ${variable} to ${variable === 'UNLEASH_ADMIN_TOKEN' ? 'an admin' : 'a backend (client)'} API token of that server.`,
    );
    this.status = status;
  }
}

/** A rollout % the flag cannot take (out of range, or a split of all-or-nothing flags). */
export class InvalidRolloutError extends FlagsError {
  constructor(message: string) {
    super('FLAGS_INVALID_ROLLOUT', message);
  }
}

/** Unleash answered with an error we did not expect. */
export class UnleashApiError extends FlagsError {
  readonly status: number;
  constructor(method: string, path: string, status: number, detail: string) {
    super('FLAGS_UNLEASH_API', `Unleash answered ${method} ${path} with ${status}${detail ? `: ${detail}` : ''}`);
    this.status = status;
  }
}

/** Starting the local Unleash failed (it exited, timed out, or its database refused the tokens). */
export class UnleashStartError extends FlagsError {
  constructor(message: string, options?: ErrorOptions) {
    super('FLAGS_UNLEASH_START', message, options);
  }
}
