import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadFlagsConfig, type RunningUnleash, startUnleashServer, UnleashAdminApi } from '@strangler/flags';
import { databaseUrlFor, withAdminClient } from '@strangler/foundation';
import { freePort } from '@strangler/foundation/testing';

/**
 * The servers the chaos suite kills, of its own so no one else's run is hurt:
 * a redis-server on a free port and an Unleash on its own database. The TCP
 * proxy that makes the service slow is shared with the journeys
 * (migrations/test/journey/delay-proxy.ts).
 */

/** Fails with what to install rather than skipping: the suite proves nothing without the real server. */
export function requireBinary(name: string, hint: string): void {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`the chaos suite needs \`${name}\` on the PATH (${hint}); it is not there`);
  }
}

/** A redis-server of the suite's own, without persistence: killed and started again, it comes back empty. */
export class ChaosRedis {
  readonly port: number;
  readonly #logFile: string;
  #child: ChildProcess | null = null;

  private constructor(port: number, logDir: string) {
    this.port = port;
    this.#logFile = join(logDir, 'redis.log');
  }

  static async start(logDir: string): Promise<ChaosRedis> {
    requireBinary('redis-server', 'apt-get install redis-server');
    const redis = new ChaosRedis(await freePort(), logDir);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const log = createWriteStream(this.#logFile, { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start; see ${this.#logFile}`)), 10_000);
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) while starting; see ${this.#logFile}`));
      });
    });
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGKILL: no save, no goodbye to the clients. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

/** An Unleash of the suite's own, on its own database, that can be stopped and started on the same port. */
export class ChaosUnleash {
  readonly adminToken: string;
  readonly clientToken: string;
  readonly #databaseUrl: string;
  readonly #postgresUrl: string;
  readonly #database: string;
  readonly #port: number;
  readonly #logFile: string;
  #running: RunningUnleash | null = null;

  private constructor(postgresUrl: string, port: number, logDir: string) {
    const config = loadFlagsConfig(process.env);
    this.adminToken = config.UNLEASH_ADMIN_TOKEN;
    this.clientToken = config.UNLEASH_CLIENT_TOKEN;
    // Named like every test database, so the stale-database sweep drops it should the run be killed.
    this.#database = `strangler_t_${Math.floor(Date.now() / 1000)}_chaosunleash_${process.pid}`;
    this.#postgresUrl = postgresUrl;
    this.#databaseUrl = databaseUrlFor(postgresUrl, this.#database);
    this.#port = port;
    this.#logFile = join(logDir, 'unleash.log');
  }

  static async start(postgresUrl: string, logDir: string): Promise<ChaosUnleash> {
    const unleash = new ChaosUnleash(postgresUrl, await freePort(), logDir);
    await unleash.restart();
    await new UnleashAdminApi({ url: unleash.url, token: unleash.adminToken }).ensureFlags();
    return unleash;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async restart(): Promise<void> {
    this.#running = await startUnleashServer({
      databaseUrl: this.#databaseUrl,
      port: this.#port,
      adminToken: this.adminToken,
      clientToken: this.clientToken,
      logFile: this.#logFile,
    });
  }

  get running(): boolean {
    const child = this.#running?.process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async stop(): Promise<void> {
    await this.#running?.stop();
    this.#running = null;
  }

  /** Stops it and drops its database. */
  async destroy(): Promise<void> {
    await this.stop();
    await withAdminClient(this.#postgresUrl, (c) =>
      c.query(`DROP DATABASE IF EXISTS "${this.#database}" WITH (FORCE)`),
    );
  }
}

/** Terminates every session on `database` except the suite's own checks; returns how many. */
export async function dropConnections(postgresUrl: string, database: string): Promise<number> {
  return withAdminClient(postgresUrl, async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> 'strangler-test-checks'`,
      [database],
    );
    let n = 0;
    for (const { pid } of rows) {
      const { rows: done } = await c.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
      if (done[0]?.ok) n++;
    }
    return n;
  });
}
