/** Where `pnpm strangler` writes, and the failures it reports as one line each. */

export type Print = (line: string) => void;

export interface CliIo {
  out: Print;
  err: Print;
  /** Where the backfill's progress bar is drawn; plain lines when it is not a terminal. */
  progress?: NodeJS.WriteStream;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line: exit 2, with a pointer to the help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The command understood you and said no (a gate not met, a stage that does
 * not allow it): exit 1. `details` are printed indented under the one line.
 */
export class RefusedError extends Error {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'RefusedError';
    this.details = details;
  }
}
