import { isContextName } from '../src/stages/contexts.ts';
import { ApplyWorker } from '../src/sync/apply-worker.ts';
import { OutboxRelay } from '../src/sync/relay.ts';
import { benchChannel } from './channel.ts';

/**
 * The sync side of the capture-lag benchmark, in a process of its own as in
 * production: what `pnpm sync:worker <context>` runs for the forward channel
 * (one OutboxRelay and one ApplyWorker, with its defaults), on the context's
 * scratch channel that `run.ts` passes in the environment. Prints `ready`
 * once both are running; on SIGTERM it stops them after the jobs in progress
 * and prints its counts as one JSON line.
 */

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this process is started by migrations/bench/run.ts)`);
  return value;
};

const context = env('BENCH_CONTEXT');
if (!isContextName(context)) throw new Error(`BENCH_CONTEXT "${context}" is not a context`);
const channel = benchChannel(context, {
  sourceUrl: env('BENCH_SOURCE_URL'),
  targetUrl: env('BENCH_TARGET_URL'),
  redisUrl: env('BENCH_REDIS_URL'),
  queuePrefix: env('BENCH_QUEUE_PREFIX'),
});
const concurrency = Number(env('BENCH_CONCURRENCY'));

let errors = 0;
const onError = (role: string) => (err: unknown) => {
  errors++;
  // The same failure repeated would flood the benchmark's output: the first few are enough.
  if (errors <= 5) process.stderr.write(`[sync-process ${role}] ${err instanceof Error ? err.message : String(err)}\n`);
};

const relay = new OutboxRelay(channel, {
  onError: onError('relay'),
  ...(process.env.BENCH_POLL_MS ? { pollIntervalMs: Number(process.env.BENCH_POLL_MS) } : {}),
});
const worker = new ApplyWorker(channel, { concurrency, onError: onError('apply') });

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    await Promise.all([relay.stop(), worker.close()]);
    process.stdout.write(`${JSON.stringify({ stats: { ...relay.stats, ...worker.stats, errors } })}\n`);
  })();
  return stopping;
}
process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
// Ctrl-C in the terminal reaches the whole process group: the parent decides when this one stops.
process.on('SIGINT', () => {});

try {
  await relay.start();
  await worker.start();
  process.stdout.write('ready\n');
} catch (err) {
  process.stderr.write(`sync-process: ${err instanceof Error ? err.message : String(err)}\n`);
  await stop().catch(() => {});
  process.exit(1);
}
