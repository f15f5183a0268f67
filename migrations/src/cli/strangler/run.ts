import { type ParseArgsConfig, parseArgs } from 'node:util';
import { FlagsError } from '@strangler/flags';
import { ConfigError, type Env, isUnavailableError } from '@strangler/foundation';
import { CONTEXT_NAMES, type ContextName, isContextName } from '../../stages/contexts.ts';
import { describeFailure } from '../../stages/measured.ts';
import { MoveInProgressError } from '../../stages/move-lock.ts';
import { StaleStageError } from '../../stages/store.ts';
import { canaryCommand } from './canary.ts';
import { loadStranglerConfig } from './config.ts';
import { guardCommand } from './guard.ts';
import { COMMAND_HELP, GLOBAL_HELP } from './help.ts';
import { historyCommand } from './history.ts';
import { advanceCommand, rollbackCommand } from './move.ts';
import { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE, RefusedError, UsageError } from './output.ts';
import { reconcileCommand } from './reconcile.ts';
import { Session } from './session.ts';
import { statusCommand } from './status.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  /** `<name>` required, `[name]` optional. */
  positionals: readonly string[];
  options: Options;
  /** Checks the arguments before any server is touched; returns the command to run. */
  prepare(positionals: string[], values: Values): (session: Session, io: CliIo) => Promise<void>;
}

const reasonAndActor = {
  reason: { type: 'string' },
  actor: { type: 'string' },
} satisfies Options;

function contextArg(value: string | undefined): ContextName {
  if (value === undefined) throw new UsageError('name a context');
  if (!isContextName(value)) {
    throw new UsageError(`unknown context "${value}"; the contexts are ${CONTEXT_NAMES.join(', ')}`);
  }
  return value;
}

function text(values: Values, name: string): string | null {
  const value = values[name];
  if (typeof value !== 'string') return null;
  if (value.trim() === '') throw new UsageError(`--${name} must not be empty`);
  return value.trim();
}

function wholeNumber(textValue: string | undefined, what: string, min: number, max: number): number {
  const match = /^(\d{1,7})\s*%?$/.exec(textValue ?? '');
  const value = Number(match?.[1]);
  if (!match || value < min || value > max) {
    throw new UsageError(`${what} must be a whole number from ${min} to ${max}, got "${textValue ?? ''}"`);
  }
  return value;
}

/** Who made a move: --actor, else $USER, else "cli". Resolved when the command runs (config is read then). */
const actorOf = (values: Values) => (session: Session) => text(values, 'actor') ?? session.config.USER ?? 'cli';

/** advance and rollback take the same arguments: a context, --force (with --reason), --actor. */
function moveCommand(run: typeof advanceCommand): Command {
  return {
    positionals: ['<context>'],
    options: { force: { type: 'boolean' }, ...reasonAndActor },
    prepare: ([context], values) => {
      const name = contextArg(context);
      const force = values.force === true;
      const reason = text(values, 'reason');
      if (force && reason === null) throw new UsageError('--force needs --reason "...": the override is recorded');
      return (session, io) => run(session, { context: name, force, reason, actor: actorOf(values)(session) }, io);
    },
  };
}

const COMMANDS: Record<string, Command> = {
  status: {
    positionals: ['[context]'],
    options: { json: { type: 'boolean' } },
    prepare: ([context], values) => {
      const only = context === undefined ? null : contextArg(context);
      return (session, io) => statusCommand(session, { context: only, json: values.json === true }, io.out);
    },
  },
  advance: moveCommand(advanceCommand),
  rollback: moveCommand(rollbackCommand),
  canary: {
    positionals: ['<context>', '<percent>'],
    options: reasonAndActor,
    prepare: ([context, percentText], values) => {
      const name = contextArg(context);
      const percent = wholeNumber(percentText, 'the percent', 0, 100);
      const reason = text(values, 'reason');
      return (session, io) =>
        canaryCommand(session, { context: name, percent, reason, actor: actorOf(values)(session) }, io);
    },
  },
  reconcile: {
    positionals: ['<context>'],
    options: { repair: { type: 'boolean' }, json: { type: 'boolean' }, actor: { type: 'string' } },
    prepare: ([context], values) => {
      const name = contextArg(context);
      return (session, io) =>
        reconcileCommand(
          session,
          {
            context: name,
            repair: values.repair === true,
            json: values.json === true,
            actor: actorOf(values)(session),
          },
          io,
        );
    },
  },
  guard: {
    positionals: ['[context]'],
    options: {
      watch: { type: 'boolean' },
      interval: { type: 'string' },
      json: { type: 'boolean' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
    },
    prepare: ([context], values) => {
      const only = context === undefined ? null : contextArg(context);
      const intervalSeconds =
        values.interval === undefined ? 10 : wholeNumber(String(values.interval), '--interval', 1, 3600);
      const metricsPort =
        values['metrics-port'] === undefined
          ? null
          : wholeNumber(String(values['metrics-port']), '--metrics-port', 1, 65535);
      const metricsHost = text(values, 'metrics-host') ?? '127.0.0.1';
      if (
        !values.watch &&
        (values.interval !== undefined || metricsPort !== null || values['metrics-host'] !== undefined)
      ) {
        throw new UsageError('--interval, --metrics-port and --metrics-host go with --watch');
      }
      if (values.watch && values.json) throw new UsageError('--json prints one check; it does not go with --watch');
      return (session, io) =>
        guardCommand(
          session,
          {
            context: only,
            watch: values.watch === true,
            intervalSeconds,
            json: values.json === true,
            metricsPort,
            metricsHost,
          },
          io,
        );
    },
  },
  history: {
    positionals: ['<context>'],
    options: { limit: { type: 'string' }, json: { type: 'boolean' } },
    prepare: ([context], values) => {
      const name = contextArg(context);
      const limit = values.limit === undefined ? 20 : wholeNumber(String(values.limit), '--limit', 1, 10_000);
      return (session, io) => historyCommand(session, { context: name, limit, json: values.json === true }, io.out);
    },
  },
};

function checkPositionals(name: string, command: Command, positionals: string[]): void {
  const required = command.positionals.filter((p) => p.startsWith('<')).length;
  if (positionals.length < required || positionals.length > command.positionals.length) {
    const wanted = command.positionals.join(' ') || 'no arguments';
    throw new UsageError(`${name} takes ${wanted}, got ${positionals.length ? positionals.join(' ') : 'none'}`);
  }
}

/** Runs `pnpm strangler <argv>`; returns the exit code. Never throws, never prints a stack trace. */
export async function runStranglerCli(argv: readonly string[], env: Env, io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(GLOBAL_HELP.trimEnd());
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(
      `error: unknown command "${name}"; the commands are ${Object.keys(COMMANDS).join(', ')} (pnpm strangler --help)`,
    );
    return EXIT_USAGE;
  }
  let session: Session | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: { help: { type: 'boolean', short: 'h' }, ...command.options },
    });
    if (values.help) {
      io.out((COMMAND_HELP[name] ?? GLOBAL_HELP).trimEnd());
      return EXIT_OK;
    }
    checkPositionals(name, command, positionals);
    const run = command.prepare(positionals, values);
    session = new Session(loadStranglerConfig(env));
    await run(session, io);
    return EXIT_OK;
  } catch (err) {
    return report(err, name, io);
  } finally {
    await session?.close();
  }
}

function report(err: unknown, command: string, io: CliIo): number {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    const message = (err as Error).message.replace(/^Unknown option '([^']+)'.*$/s, 'unknown option $1');
    io.err(`error: ${message} (pnpm strangler ${command} --help)`);
    return EXIT_USAGE;
  }
  if (err instanceof ConfigError) {
    io.err(`error: invalid configuration: ${err.problems.join('; ')}`);
    return EXIT_USAGE;
  }
  if (err instanceof RefusedError) {
    io.err(`error: ${err.message}`);
    for (const line of err.details) io.err(`  ${line}`);
    return EXIT_FAILED;
  }
  if (err instanceof StaleStageError || err instanceof FlagsError || err instanceof MoveInProgressError) {
    io.err(`error: ${err.message}`);
    return EXIT_FAILED;
  }
  if (isUnavailableError(err)) {
    io.err(
      `error: a database or Redis did not answer (${describeFailure(err)}); is it running, and are the URLs right?`,
    );
    return EXIT_FAILED;
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    io.err(`error: Postgres said: ${describeFailure(err)} (SQLSTATE ${code})`);
    return EXIT_FAILED;
  }
  // A bug, or a failure with no better explanation: still one line, with the class to search for.
  const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : '';
  io.err(`error: ${name}${describeFailure(err)}`);
  return EXIT_FAILED;
}
