import { parseArgs } from 'node:util';
import { ConfigError, type Env } from '@strangler/foundation';
import { UnleashAdminApi } from '../admin-api.ts';
import { loadFlagsConfig } from '../config.ts';
import { FlagsError } from '../errors.ts';
import {
  type CommandContext,
  checkFlagName,
  enableCommand,
  historyCommand,
  initCommand,
  killCommand,
  listCommand,
  type Print,
  setCommand,
  showCommand,
} from './commands.ts';
import { COMMAND_HELP, GLOBAL_HELP } from './help.ts';

/** A mistake in the command line: exit code 2, with a pointer to the help. */
class UsageError extends Error {}

export interface CliIo {
  out: Print;
  err: Print;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

interface Command {
  /** A name ending in "?" is optional (last only). */
  positionals: readonly string[];
  options?: { json?: true; off?: true; limit?: true };
  run(context: CommandContext, args: string[], values: { off?: boolean; limit?: string }): Promise<void>;
}

const SET: Command = {
  positionals: ['flag', 'percent'],
  run: (c, [flag, percent]) => setCommand(c, flag as string, parsePercent(percent)),
};

const COMMANDS: Record<string, Command> = {
  list: { positionals: [], options: { json: true }, run: (c) => listCommand(c) },
  show: { positionals: ['flag'], options: { json: true }, run: (c, [flag]) => showCommand(c, flag as string) },
  set: SET,
  rollout: SET,
  enable: { positionals: ['flag'], run: (c, [flag]) => enableCommand(c, flag as string, true) },
  disable: { positionals: ['flag'], run: (c, [flag]) => enableCommand(c, flag as string, false) },
  kill: { positionals: [], options: { off: true }, run: (c, _args, { off }) => killCommand(c, !off) },
  unkill: { positionals: [], run: (c) => killCommand(c, false) },
  init: { positionals: [], run: (c) => initCommand(c) },
  history: {
    positionals: ['flag?'],
    options: { json: true, limit: true },
    run: (c, [flag], { limit }) => historyCommand(c, flag, parseLimit(limit)),
  },
};

function parseLimit(text: string | undefined): number {
  if (text === undefined) return 20;
  const value = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= 1000))
    throw new UsageError(`--limit must be a whole number from 1 to 1000, got "${text}"`);
  return value;
}

function parsePercent(text: string | undefined): number {
  const match = /^(\d{1,3})\s*%?$/.exec(text ?? '');
  const value = Number(match?.[1]);
  if (!match || value > 100) throw new UsageError(`the percent must be a whole number from 0 to 100, got "${text}"`);
  return value;
}

/** Runs `pnpm flags <argv>`; returns the exit code. Never throws, never prints a stack trace. */
export async function runFlagsCli(argv: readonly string[], env: Env, io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(GLOBAL_HELP.trimEnd());
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(
      `error: unknown command "${name}"; the commands are ${Object.keys(COMMANDS).join(', ')} (pnpm flags --help)`,
    );
    return EXIT_USAGE;
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...(command.options?.json ? { json: { type: 'boolean' } } : {}),
        ...(command.options?.off ? { off: { type: 'boolean' } } : {}),
        ...(command.options?.limit ? { limit: { type: 'string' } } : {}),
      },
    });
    if (values.help) {
      io.out((COMMAND_HELP[name] ?? GLOBAL_HELP).trimEnd());
      return EXIT_OK;
    }
    const required = command.positionals.filter((p) => !p.endsWith('?')).length;
    if (positionals.length < required || positionals.length > command.positionals.length) {
      const wanted =
        command.positionals.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(' ') ||
        'no arguments';
      throw new UsageError(`${name} takes ${wanted}, got ${positionals.length ? positionals.join(' ') : 'none'}`);
    }
    if (command.positionals[0]?.startsWith('flag') && positionals[0] !== undefined) checkFlagName(positionals[0]);
    const config = loadFlagsConfig(env);
    const api = new UnleashAdminApi({ url: config.UNLEASH_URL, token: config.UNLEASH_ADMIN_TOKEN });
    await command.run({ api, print: io.out, json: values.json === true }, positionals, {
      off: values.off === true,
      ...(typeof values.limit === 'string' ? { limit: values.limit } : {}),
    });
    return EXIT_OK;
  } catch (err) {
    return report(err, name, io);
  }
}

function report(err: unknown, command: string, io: CliIo): number {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    // Node's parseArgs explains how to pass a positional starting with "-"; the option name is what matters.
    const message = (err as Error).message.replace(/^Unknown option '([^']+)'.*$/s, 'unknown option $1');
    io.err(`error: ${message} (pnpm flags ${command} --help)`);
    return EXIT_USAGE;
  }
  if (err instanceof ConfigError) {
    io.err(`error: invalid configuration: ${err.problems.join('; ')}`);
    return EXIT_USAGE;
  }
  if (err instanceof FlagsError) {
    io.err(`error: ${err.message}`);
    return EXIT_FAILED;
  }
  // A bug, not a mistake of the user's: still one line, with the class to search for.
  io.err(`error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  return EXIT_FAILED;
}
