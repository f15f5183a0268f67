import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@strangler/flags';
import { createKnex, type Knex } from '@strangler/foundation';
import { freePort, freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import { type ManagedProcess, startProcess, waitUntilReady } from '../../../scripts/lib/processes.ts';
import { type ContextChannels, type ContextName, contextRegistry } from '../../src/stages/contexts.ts';
import { captureLag } from '../../src/sync/outbox.ts';

/**
 * A whole extraction's processes, every one real, for the tests that run
 * traffic through it (the journeys, the chaos suite): ShopCo, the context's
 * service, two edge routers sharing the write fence and the traffic counts
 * through Redis, sync workers (`pnpm sync:worker --role`, as many of each
 * role as asked), guards (`pnpm strangler guard --watch`), and
 * `pnpm strangler` in a child process for every move. Redis and Unleash are given: the journeys use the run's, the
 * chaos suite starts its own so it can kill them.
 *
 * Every process keeps its command line, so a test can kill it (SIGKILL, no
 * cleanup runs) and start it again on the same port.
 */

const CLI = join(REPO_ROOT, 'migrations/src/cli/strangler.ts');
const WORKER = join(REPO_ROOT, 'migrations/src/cli/sync-worker.ts');
const run = promisify(execFile);

/** What a `pnpm sync:worker` process runs (its `--role`). */
export type WorkerRole = 'relay' | 'apply' | 'all';

export interface UnleashAccess {
  url: string;
  adminToken: string;
  clientToken: string;
}

export interface StackOptions {
  context: ContextName;
  /** Prefix of every Redis key the stack uses (queues, traffic, fence), so runs sharing a Redis do not meet. */
  prefix: string;
  /** Every process logs to a file here. */
  logDir: string;
  redisUrl: string;
  unleash: UnleashAccess;
  /** What the monolith holds before the extraction starts (the backfill copies it). */
  seed(monolith: Knex): Promise<void>;
  /** ShopCo's environment besides its database and port. */
  monolithEnv(stack: {
    serviceUrl: string;
    redisUrl: string;
    fencePrefix: string;
    logDir: string;
    unleash: UnleashAccess;
  }): Record<string, string>;
  /** More router environment (timeouts, the read-your-writes window). */
  routerEnv?: Record<string, string>;
  /** Where the routers reach the service; by default its own address. A test may put a proxy in between. */
  serviceFront?: (serviceUrl: string) => Promise<string>;
  /** How many `pnpm sync:worker` processes of each role; by default one `all`. */
  workers?: Partial<Record<WorkerRole, number>>;
  /** `pnpm strangler guard <context> --watch` processes, with their policy's environment; none by default. */
  guards?: { count: number; intervalSeconds: number; env: Record<string, string> };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One of the stack's processes: started again with the same command line, port and log file. */
export class StackProcess {
  readonly name: string;
  readonly readyUrl: string | null;
  readonly #script: string;
  readonly #env: Record<string, string>;
  readonly #logFile: string;
  readonly #args: readonly string[];
  #process: ManagedProcess | null = null;

  constructor(
    name: string,
    script: string,
    env: Record<string, string>,
    logFile: string,
    opts: { args?: readonly string[]; readyUrl?: string } = {},
  ) {
    this.name = name;
    this.#script = script;
    this.#env = env;
    this.#logFile = logFile;
    this.#args = opts.args ?? [];
    this.readyUrl = opts.readyUrl ?? null;
  }

  get logFile(): string {
    return this.#logFile;
  }

  get running(): boolean {
    const child = this.#process?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The exit code of its last run; null while it runs, or when a signal ended it. */
  get exitCode(): number | null {
    return this.#process?.child.exitCode ?? null;
  }

  get pid(): number | undefined {
    return this.#process?.child.pid;
  }

  /** Starts the process; waits for its /ready when it has one. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.#process = startProcess(this.name, this.#script, this.#env, this.#logFile, this.#args);
    if (this.readyUrl) await waitUntilReady(this.#process, this.readyUrl);
  }

  /** SIGTERM: the process closes gracefully (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    await this.#process?.stop();
  }

  /** Kills this process (and only it) with `signal`, and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#process?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
}

export interface Stack {
  readonly options: StackOptions;
  readonly monolithDb: TestDatabase;
  readonly serviceDb: TestDatabase;
  readonly controlDb: TestDatabase;
  /** Small pools for the tests' own checks. */
  readonly monolith: Knex;
  readonly service: Knex;
  readonly channels: ContextChannels;
  readonly monolithUrl: string;
  /** The service itself. */
  readonly serviceUrl: string;
  /** What the routers call the service (the service, or a proxy in front of it). */
  readonly serviceFrontUrl: string;
  readonly routerUrls: readonly string[];
  readonly shopco: StackProcess;
  readonly serviceProcess: StackProcess;
  readonly routers: readonly StackProcess[];
  /**
   * `pnpm sync:worker <context> --role <role>`, as `workers` asked; each runs
   * both directions, each once its capture exists. Not started by `startStack`.
   */
  readonly workers: readonly StackProcess[];
  /** The first of `workers` (the only one, by default). */
  readonly worker: StackProcess;
  /** Starts (or stops) every one of `workers`. */
  startWorkers(): Promise<void>;
  stopWorkers(): Promise<void>;
  /** `pnpm strangler guard <context> --watch`, as `guards` asked. Not started by `startStack`. */
  readonly guards: readonly StackProcess[];
  /** The environment `pnpm strangler` runs with. */
  readonly cliEnv: Record<string, string>;
  /** `pnpm strangler <args>` in a child process, to its exit. */
  strangler(args: readonly string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** The same, started without waiting: a test can kill it midway. */
  spawnStrangler(args: readonly string[], extraEnv?: Record<string, string>): ChildProcess;
  /**
   * Advances once the gate is met. Gates read live numbers (shadow samples,
   * service requests, the last reconcile), so a refusal is retried while the
   * load produces them; a drift refusal runs a reconcile first.
   */
  advance(to: string, opts?: { timeoutMs?: number; reason?: string; env?: Record<string, string> }): Promise<CliResult>;
  rollback(to: string, opts?: { reason?: string }): Promise<CliResult>;
  stageOf(): Promise<string>;
  /** Waits until every captured change of `channel` is applied. */
  waitForDrain(channel: ContextChannels['forward'], timeoutMs?: number): Promise<void>;
  /** Stops every process, closes the pools, drops the databases. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startStack(options: StackOptions): Promise<Stack> {
  const { context, prefix, logDir, redisUrl, unleash } = options;
  const ENV = context.toUpperCase();
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const [monolithDb, serviceDb, controlDb] = await Promise.all([
      freshDatabase('monolith'),
      freshDatabase(context),
      freshDatabase('control'),
    ]);
    cleanups.push(() => Promise.all([monolithDb.drop(), serviceDb.drop(), controlDb.drop()]));
    const monolith = createKnex({ url: monolithDb.url, pool: { max: 3 }, applicationName: 'strangler-test-checks' });
    const service = createKnex({ url: serviceDb.url, pool: { max: 3 }, applicationName: 'strangler-test-checks' });
    cleanups.push(() => Promise.all([monolith.destroy(), service.destroy()]));

    await options.seed(monolith);

    const channels = contextRegistry({
      monolithUrl: monolithDb.url,
      // Only this context's channels are used here.
      usersUrl: context === 'users' ? serviceDb.url : 'postgres://127.0.0.1:1/unused',
      productsUrl: context === 'products' ? serviceDb.url : 'postgres://127.0.0.1:1/unused',
      redisUrl,
      queuePrefix: prefix,
    })[context].channels;

    const [monolithPort, servicePort, routerA, routerB] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const monolithUrl = `http://127.0.0.1:${monolithPort}`;
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    const serviceFrontUrl = options.serviceFront ? await options.serviceFront(serviceUrl) : serviceUrl;
    const common = { NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1' };
    const fencePrefix = `${prefix}:fence`;

    const shopco = new StackProcess(
      'shopco',
      join(REPO_ROOT, 'monolith/src/server.ts'),
      {
        ...common,
        PORT: String(monolithPort),
        DATABASE_URL: monolithDb.url,
        ...options.monolithEnv({ serviceUrl, redisUrl, fencePrefix, logDir, unleash }),
      },
      join(logDir, 'shopco.log'),
      { readyUrl: `${monolithUrl}/ready` },
    );
    const serviceProcess = new StackProcess(
      `${context}-service`,
      join(REPO_ROOT, `extracted/${context}/src/server.ts`),
      { ...common, PORT: String(servicePort), DATABASE_URL: serviceDb.url },
      join(logDir, `${context}-service.log`),
      { readyUrl: `${serviceUrl}/ready` },
    );
    const routerUrls = [routerA, routerB].map((port) => `http://127.0.0.1:${port}`);
    const routers = [routerA, routerB].map(
      (port, i) =>
        new StackProcess(
          `router-${i}`,
          join(REPO_ROOT, 'edge-router/src/server.ts'),
          {
            ...common,
            PORT: String(port),
            MONOLITH_URL: monolithUrl,
            [`${ENV}_SERVICE_URL`]: serviceFrontUrl,
            UNLEASH_URL: unleash.url,
            UNLEASH_CLIENT_TOKEN: unleash.clientToken,
            FLAG_REFRESH_MS: '250',
            FLAG_BACKUP_PATH: join(logDir, `flags-backup-${i}.json`),
            REDIS_URL: redisUrl,
            TRAFFIC_KEY_PREFIX: `${prefix}:traffic`,
            FENCE_KEY_PREFIX: fencePrefix,
            ...options.routerEnv,
          },
          join(logDir, `router-${i}.log`),
          { readyUrl: `http://127.0.0.1:${port}/ready` },
        ),
    );
    const cliEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      STRANGLER_DATABASE_URL: controlDb.url,
      DATABASE_URL: monolithDb.url,
      [`${ENV}_DATABASE_URL`]: serviceDb.url,
      REDIS_URL: redisUrl,
      SYNC_QUEUE_PREFIX: prefix,
      TRAFFIC_KEY_PREFIX: `${prefix}:traffic`,
      FENCE_KEY_PREFIX: fencePrefix,
      UNLEASH_URL: unleash.url,
      UNLEASH_ADMIN_TOKEN: unleash.adminToken,
      USER: 'journey',
      // Gate thresholds sized for a test that lasts a minute; the production defaults need more traffic.
      GATE_WINDOW_SECONDS: '60',
      GATE_MIN_SHADOW_SAMPLES: '40',
      GATE_MIN_CONSISTENCY: '0.98',
      GATE_MIN_REQUESTS: '40',
      GATE_P99_MARGIN_MS: '500',
      GATE_ERROR_RATE_MARGIN: '0.01',
    };
    const roles = Object.entries(options.workers ?? { all: 1 }) as Array<[WorkerRole, number]>;
    const single = roles.length === 1 && roles[0]?.[0] === 'all' && roles[0][1] === 1;
    const workers = roles.flatMap(([role, count]) =>
      Array.from({ length: count }, (_, i) => {
        const name = single ? 'sync-worker' : `sync-${role}-${i}`;
        return new StackProcess(name, WORKER, cliEnv, join(logDir, `${name}.log`), {
          args: [context, '--role', role],
        });
      }),
    );
    const worker = workers[0];
    if (!worker) throw new Error('the stack needs at least one sync worker');
    const guards = Array.from(
      { length: options.guards?.count ?? 0 },
      (_, i) =>
        new StackProcess(`guard-${i}`, CLI, { ...cliEnv, ...options.guards?.env }, join(logDir, `guard-${i}.log`), {
          args: ['guard', context, '--watch', '--interval', String(options.guards?.intervalSeconds ?? 10)],
        }),
    );

    const processes = [shopco, serviceProcess, ...routers, ...workers, ...guards];
    cleanups.push(async () => {
      for (const p of [...processes].reverse()) await p.stop().catch(() => {});
    });
    await Promise.all([shopco.start(), serviceProcess.start(), ...routers.map((r) => r.start())]);

    const strangler = async (args: readonly string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => {
      try {
        const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
          cwd: REPO_ROOT,
          env: { ...cliEnv, ...extraEnv },
        });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    };

    const spawnStrangler = (args: readonly string[], extraEnv: Record<string, string> = {}): ChildProcess => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: REPO_ROOT,
        env: { ...cliEnv, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const log = createWriteStream(join(logDir, 'strangler-cli.log'), { flags: 'a' });
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
      return child;
    };

    const advance = async (
      to: string,
      opts: { timeoutMs?: number; reason?: string; env?: Record<string, string> } = {},
    ): Promise<CliResult> => {
      const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
      for (;;) {
        const result = await strangler(['advance', context, '--reason', opts.reason ?? `test: to ${to}`], opts.env);
        if (result.code === 0) {
          if (!result.stdout.includes(`${context} is now at ${to}`)) {
            throw new Error(`advance to ${to} ended elsewhere:\n${result.stdout}`);
          }
          return result;
        }
        const gateUnmet = /the gate to \w+ is not met/.test(result.stderr);
        if (!gateUnmet || Date.now() > deadline) {
          throw new Error(`advance to ${to} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
        }
        if (/drift is|no reconcile has run/.test(result.stderr)) await strangler(['reconcile', context], opts.env);
        else await sleep(500);
      }
    };

    const rollback = async (to: string, opts: { reason?: string } = {}): Promise<CliResult> => {
      const result = await strangler(['rollback', context, '--reason', opts.reason ?? `test: back to ${to}`]);
      if (result.code !== 0 || !result.stdout.includes(`${context} is now at ${to}`)) {
        throw new Error(`rollback to ${to} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
      }
      return result;
    };

    const stageOf = async (): Promise<string> => {
      const status = await strangler(['status', context, '--json']);
      if (status.code !== 0) throw new Error(`status failed (exit ${status.code}):\n${status.stderr}`);
      return JSON.parse(status.stdout).contexts[0].stage.stage;
    };

    const waitForDrain = async (channel: ContextChannels['forward'], timeoutMs = 30_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const lag = await captureLag(channel);
        if (lag.unappliedRows === 0) return;
        if (Date.now() > deadline) throw new Error(`${channel.name} still has ${lag.unappliedRows} unapplied changes`);
        await sleep(100);
      }
    };

    return {
      options,
      monolithDb,
      serviceDb,
      controlDb,
      monolith,
      service,
      channels,
      monolithUrl,
      serviceUrl,
      serviceFrontUrl,
      routerUrls,
      shopco,
      serviceProcess,
      routers,
      workers,
      worker,
      startWorkers: async () => {
        await Promise.all(workers.map((w) => w.start()));
      },
      stopWorkers: async () => {
        await Promise.all(workers.map((w) => w.stop()));
      },
      guards,
      cliEnv,
      strangler,
      spawnStrangler,
      advance,
      rollback,
      stageOf,
      waitForDrain,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
