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

const HELP = `Usage: pnpm sync:worker <context> [--concurrency <n>]

Runs the sync of a context in both directions: for each channel, forward
(monolith → service) and reverse (service → monolith), an outbox relay
(captured changes → BullMQ) and apply workers (BullMQ → the other database).
Each channel starts once its capture is installed: forward at the first
\`pnpm strangler advance <context>\`, reverse at the write cutover, so the
same process carries the context through every stage without a restart.
Prints a line a second while changes flow. Ctrl-C or SIGTERM stops it after
the jobs in progress; nothing is lost, the outbox keeps the rest.

Run as many as you like: relays share the outbox, workers share the queue.

Options:
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

/** One channel's relay and workers, started once its capture is installed, stopped with `stopped`. */
async function runChannel(
  channel: SyncChannel,
  concurrency: number,
  stopped: AbortSignal,
  counts: Map<string, () => Counts>,
): Promise<void> {
  if (!(await waitForCapture(channel, stopped))) return;
  const relay = new OutboxRelay(channel, { onError: errorLogger(`${channel.name} relay`) });
  const worker = new ApplyWorker(channel, { concurrency, onError: errorLogger(`${channel.name} apply`) });
  try {
    await relay.start();
    await worker.start();
    counts.set(channel.name, () => ({ relayed: relay.stats.relayed + relay.stats.requeued, ...worker.stats }));
    say(`${channel.name} (${channel.direction}): relay and ${concurrency} apply workers running`);
    await new Promise<void>((resolve) => {
      if (stopped.aborted) resolve();
      else stopped.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await Promise.all([relay.stop(), worker.close()]);
    say(`${channel.name}: stopped; relayed ${relay.stats.relayed}, applied ${worker.stats.applied}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { concurrency: { type: 'string', default: '4' }, help: { type: 'boolean', short: 'h' } },
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
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const counts = new Map<string, () => Counts>();
  const running = [channels.forward, channels.reverse].map((c) => runChannel(c, concurrency, stop.signal, counts));
  say(`syncing ${context}: ${channels.forward.name} and ${channels.reverse.name}, each once its capture is installed`);
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
