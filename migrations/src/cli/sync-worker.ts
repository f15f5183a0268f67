import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ConfigError, createKnex } from '@strangler/foundation';
import { CONTEXT_NAMES, isContextName } from '../stages/contexts.ts';
import { describeFailure } from '../stages/measured.ts';
import { ApplyWorker } from '../sync/apply-worker.ts';
import { isCaptureInstalled } from '../sync/capture.ts';
import type { SyncChannel } from '../sync/channel.ts';
import { OutboxRelay } from '../sync/relay.ts';
import { loadStranglerConfig } from './strangler/config.ts';
import { UsageError } from './strangler/output.ts';
import { Session } from './strangler/session.ts';

/** What one process runs: a deployment keeps relays few and scales apply workers on queue depth. */
const ROLES = ['relay', 'apply', 'all'] as const;
type Role = (typeof ROLES)[number];

/**
 * How long a stop may take: the relay's batch in progress and the apply jobs
 * in hand. An apply waits on row locks in the target, so without a bound a
 * lock held elsewhere would keep the process alive; past it the process
 * exits 1, and its jobs go back to the queue once their lock lapses (BullMQ's
 * stalled check, ApplyWorker's lockDurationMs), so nothing is lost either way.
 */
const CLOSE_BOUND_MS = 20_000;

const HELP = `Usage: pnpm sync:worker <context> [--role relay|apply|all] [--concurrency <n>]

Runs the sync of a context in both directions: for each channel, forward
(monolith → service) and reverse (service → monolith), an outbox relay
(captured changes → BullMQ) and apply workers (BullMQ → the other database).
Each channel starts once its capture is installed: forward at the first
\`pnpm strangler advance <context>\`, reverse at the write cutover, so the
same process carries the context through every stage without a restart.
Prints a line a second while changes flow. Ctrl-C or SIGTERM stops it after
the batch and the jobs in progress (at most ${CLOSE_BOUND_MS / 1000} s, then it exits 1); nothing is
lost: the outbox keeps what was not relayed, the queue what was not applied.

Run as many as you like: relays share the outbox (each row is taken by one,
and a row relayed twice keeps its job id, so BullMQ keeps one job), apply
workers share the queue (each job goes to one; applying is idempotent).

Options:
  --role <role>       what this process runs (default all):
                        relay  the outbox relays only: few are needed, one per
                               channel is enough, two for availability
                        apply  the apply workers only: scale these on queue depth
                        all    both, as a single process for a small setup
  --concurrency <n>   apply transactions in parallel, each taking up to 16 jobs (default 4)
  -h, --help          show this help

Environment: DATABASE_URL, USERS_DATABASE_URL, PRODUCTS_DATABASE_URL, REDIS_URL, SYNC_QUEUE_PREFIX,
STRANGLER_DATABASE_URL, as for \`pnpm strangler\` (pnpm strangler --help).
`;

const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** The same failure at most once every 10 s, so a server that is away does not flood the log. */
function errorLogger(role: string): (err: unknown) => void {
  const last = new Map<string, number>();
  return (err) => {
    const message = describeFailure(err);
    const now = Date.now();
    if (now - (last.get(message) ?? 0) < 10_000) return;
    last.set(message, now);
    say(`${role}: ${message}`);
  };
}

async function waitForCapture(channel: SyncChannel, stopped: AbortSignal): Promise<boolean> {
  const knex = createKnex({ url: channel.sourceUrl, pool: { max: 1 }, applicationName: 'strangler-sync-worker' });
  const logError = errorLogger(`${channel.name} capture check`);
  try {
    let told = false;
    while (!stopped.aborted) {
      try {
        if (await isCaptureInstalled(knex, channel)) return true;
      } catch (err) {
        logError(err);
      }
      if (!told) say(`${channel.name}: waiting for its capture to be installed (${WHO_INSTALLS[channel.direction]})`);
      told = true;
      await sleep(CAPTURE_POLL_MS, undefined, { signal: stopped }).catch(() => {});
    }
    return false;
  } finally {
    await knex.destroy();
  }
}

const WHO_INSTALLS: Record<SyncChannel['direction'], string> = {
  forward: '`pnpm strangler advance` from legacy does it',
  reverse: 'the write cutover, `pnpm strangler advance` from reads, does it',
};

/** How soon a channel starts after its capture appears: the reverse one starts at the cutover. */
const CAPTURE_POLL_MS = 500;

interface Counts {
  relayed: number;
  applied: number;
  retried: number;
  deadLettered: number;
}

/** One channel's relay and/or workers, started once its capture is installed, stopped with `stopped`. */
async function runChannel(
  channel: SyncChannel,
  role: Role,
  concurrency: number,
  stopped: AbortSignal,
  counts: Map<string, () => Counts>,
): Promise<void> {
  if (!(await waitForCapture(channel, stopped))) return;
  const relay = role === 'apply' ? null : new OutboxRelay(channel, { onError: errorLogger(`${channel.name} relay`) });
  const worker =
    role === 'relay' ? null : new ApplyWorker(channel, { concurrency, onError: errorLogger(`${channel.name} apply`) });
  try {
    await relay?.start();
    await worker?.start();
    counts.set(channel.name, () => ({
      relayed: relay ? relay.stats.relayed + relay.stats.requeued : 0,
      ...(worker?.stats ?? { applied: 0, retried: 0, deadLettered: 0 }),
    }));
    const running = [relay && 'relay', worker && `${concurrency} apply workers`].filter(Boolean).join(' and ');
    say(`${channel.name} (${channel.direction}): ${running} running`);
    await new Promise<void>((resolve) => {
      if (stopped.aborted) resolve();
      else stopped.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await Promise.all([relay?.stop(), worker?.close()]);
    const done = [
      relay && `relayed ${relay.stats.relayed} (requeued ${relay.stats.requeued})`,
      worker && `applied ${worker.stats.applied}`,
    ];
    say(`${channel.name}: stopped; ${done.filter(Boolean).join(', ')}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string', default: 'all' },
      concurrency: { type: 'string', default: '4' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [context, ...extra] = positionals;
  if (context === undefined || extra.length > 0) throw new UsageError('name one context, e.g. pnpm sync:worker users');
  if (!isContextName(context)) {
    throw new UsageError(`unknown context "${context}"; the contexts are ${CONTEXT_NAMES.join(', ')}`);
  }
  const role = values.role as Role;
  if (!ROLES.includes(role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${values.role}"`);
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 64, got "${values.concurrency}"`);
  }
  const session = new Session(loadStranglerConfig(process.env));
  const channels = session.contexts[context].channels;
  await session.close();

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      say(`${signal} again: exiting now`);
      process.exit(1);
    }
    say(`${signal}: finishing the jobs in progress, then stopping (again to quit at once)`);
    stop.abort();
    setTimeout(() => {
      say(`still stopping after ${CLOSE_BOUND_MS / 1000} s: exiting; the jobs in hand go back to the queue`);
      process.exit(1);
    }, CLOSE_BOUND_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const counts = new Map<string, () => Counts>();
  const running = [channels.forward, channels.reverse].map((c) =>
    runChannel(c, role, concurrency, stop.signal, counts),
  );
  say(
    `syncing ${context} (role ${role}): ${channels.forward.name} and ${channels.reverse.name}, each once its capture is installed`,
  );
  const before = new Map<string, Counts>();
  while (!stop.signal.aborted) {
    await sleep(1_000, undefined, { signal: stop.signal }).catch(() => {});
    for (const [name, read] of counts) {
      const now = read();
      const was = before.get(name) ?? { relayed: 0, applied: 0, retried: 0, deadLettered: 0 };
      before.set(name, now);
      if ((Object.keys(now) as Array<keyof Counts>).every((k) => now[k] === was[k])) continue;
      say(
        `${name}: relayed +${now.relayed - was.relayed}, applied +${now.applied - was.applied}` +
          `, retried +${now.retried - was.retried}, dead-lettered +${now.deadLettered - was.deadLettered}` +
          ` (totals ${now.relayed} / ${now.applied} / ${now.retried} / ${now.deadLettered})`,
      );
    }
  }
  await Promise.all(running);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`error: ${(err as Error).message} (pnpm sync:worker --help)\n`);
    process.exitCode = 2;
  } else if (err instanceof ConfigError) {
    process.stderr.write(`error: invalid configuration: ${err.problems.join('; ')}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`error: ${describeFailure(err)}\n`);
    process.exitCode = 1;
  }
}
