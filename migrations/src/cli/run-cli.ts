import { ConfigError, isUnavailableError } from '@strangler/foundation';

/** A failure the user can fix; printed as one line, without a stack trace. */
export class CliError extends Error {}

export function fail(message: string): never {
  throw new CliError(message);
}

/**
 * Runs a command's main function and turns every failure into a clear message
 * and a non-zero exit code; `--help` text is printed on argument errors.
 */
export async function runCli(main: (argv: string[]) => Promise<void>, help: string): Promise<void> {
  try {
    await main(process.argv.slice(2));
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (err instanceof CliError || err instanceof ConfigError) {
      console.error(`error: ${e.message}`);
    } else if (e.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`error: ${e.message}\n\n${help}`);
    } else if (isUnavailableError(err)) {
      console.error(
        `error: cannot reach Postgres (${e.message}). Is it running? Set DATABASE_URL or pass --database-url.`,
      );
    } else if (e.code === '3D000' || e.code === '28P01' || e.code === '28000') {
      console.error(`error: Postgres refused the connection: ${e.message}`);
    } else {
      console.error(`error: ${e.message ?? String(err)}`);
      if (process.env.DEBUG) console.error(err);
    }
    process.exitCode = 1;
  }
}
