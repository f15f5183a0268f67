import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ConfigError, createKnex } from '@strangler/foundation';
import { CONTEXT_NAMES, channelDirectionFor, isContextName } from '../stages/contexts.ts';
import { describeFailure } from '../stages/measured.ts';
import type { Stage } from '../stages/stages.ts';
import { ApplyWorker } from '../sync/apply-worker.ts';
import { isCaptureInstalled } from '../sync/capture.ts';
import type { SyncChannel } from '../sync/channel.ts';
import { OutboxRelay } from '../sync/relay.ts';
import { loadStranglerConfig } from './strangler/config.ts';
import { UsageError } from './strangler/output.ts';
import { Session } from './strangler/session.ts';

const HELP = `Usage: pnpm sync:worker <context> [--concurrency <n>]

Runs the sync of a context: an outbox relay (captured changes → BullMQ) and
apply workers (BullMQ → the other database), for the channel of the context's
current stage: forward (monolith → service) before writes, reverse after.
At legacy it waits until capture is installed (\`pnpm strangler advance <context>\`).
Prints a line a second while changes flow. Ctrl-C or SIGTERM stops it after
the jobs in progress; nothing is lost, the outbox keeps the rest.

Run as many as you like: relays share the outbox, workers share the queue.
It reads the stage once, at start: restart it after a move that changes the
direction (the write cutover).

Options:
  --concurrency <n>   jobs applied in parallel (default 4)
  -h, --help          show this help

Environment: DATABASE_URL, USERS_DATABASE_URL, REDIS_URL, SYNC_QUEUE_PREFIX,
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
  try {
    let told = false;
    while (!stopped.aborted) {
      if (await isCaptureInstalled(knex, channel)) return true;
      if (!told) say(`waiting for capture of ${channel.name} to be installed (\`pnpm strangler advance\` does it)`);
      told = true;
      await sleep(2_000, undefined, { signal: stopped }).catch(() => {});
    }
    return false;
  } finally {
    await knex.destroy();
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
  if (!channels) throw new Error(`${context} has no extraction configured yet: there is nothing to sync`);
  let stage: Stage;
  try {
    stage = (await (await session.control()).stages.get(context)).stage;
  } finally {
    await session.close();
  }
  const channel = channelDirectionFor(stage) === 'reverse' ? channels.reverse : channels.forward;

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

  say(`${context} is at ${stage}: syncing ${channel.name} (${channel.direction})`);
  if (!(await waitForCapture(channel, stop.signal))) return 0;
  const relay = new OutboxRelay(channel, { onError: errorLogger('relay') });
  const worker = new ApplyWorker(channel, { concurrency, onError: errorLogger('apply') });
  try {
    await relay.start();
    await worker.start();
    say(`relay and ${concurrency} apply workers running; Ctrl-C stops them`);
    let before = { relayed: 0, applied: 0, retried: 0, deadLettered: 0 };
    while (!stop.signal.aborted) {
      await sleep(1_000, undefined, { signal: stop.signal }).catch(() => {});
      const now = { relayed: relay.stats.relayed + relay.stats.requeued, ...worker.stats };
      const moved = (Object.keys(now) as Array<keyof typeof now>).some((k) => now[k] !== before[k]);
      if (moved) {
        say(
          `${channel.name}: relayed +${now.relayed - before.relayed}, applied +${now.applied - before.applied}` +
            `, retried +${now.retried - before.retried}, dead-lettered +${now.deadLettered - before.deadLettered}` +
            ` (totals ${now.relayed} / ${now.applied} / ${now.retried} / ${now.deadLettered})`,
        );
      }
      before = now;
    }
  } finally {
    await Promise.all([relay.stop(), worker.close()]);
  }
  say(`stopped: relayed ${relay.stats.relayed}, applied ${worker.stats.applied}`);
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
