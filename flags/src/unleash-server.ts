import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { databaseNameOf, ensureDatabase, isUnavailableError, redactUrl } from '@strangler/foundation';
import { STATE_DIR } from './config.ts';
import { UnleashStartError } from './errors.ts';

/**
 * Runs unleash-server from npm as a child process against our Postgres: the
 * same server, UI and APIs as a production Unleash, started by our scripts
 * and tests instead of Docker. Its output goes to a log file, not our stdout.
 */

export interface UnleashServerOptions {
  /** Unleash's own database; created when missing. */
  databaseUrl: string;
  port: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Admin API token (`*:*.<secret>`) Unleash creates on its first start against an empty database. */
  adminToken: string;
  /** Backend API token (`default:development.<secret>`) created the same way, for the router. */
  clientToken: string;
  /** The admin UI login created on the first start; default admin / unleash4all (Unleash's own). */
  adminUser?: { username: string; password: string };
  /** Default `.strangler/logs/unleash.log` under the repository root; appended to. */
  logFile?: string;
  /** Default 90 s: a first start runs Unleash's migrations. */
  startTimeoutMs?: number;
}

export interface RunningUnleash {
  /** Base URL, e.g. http://127.0.0.1:4242: the admin UI, and `<url>/api/...`. */
  url: string;
  logFile: string;
  /** The child process, e.g. to notice it exiting. */
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after 10 s; safe to call twice. */
  stop(): Promise<void>;
}

export const DEFAULT_ADMIN_USER = Object.freeze({ username: 'admin', password: 'unleash4all' });

/** The package exports only its library entry (dist/lib/server-impl.js); its start script sits next to it. */
function serverScript(): string {
  const entry = createRequire(import.meta.url).resolve('unleash-server');
  return join(dirname(entry), '..', 'server.js');
}

export async function startUnleashServer(options: UnleashServerOptions): Promise<RunningUnleash> {
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${options.port}`;
  const logFile = options.logFile ?? join(STATE_DIR, 'logs', 'unleash.log');
  const adminUser = options.adminUser ?? DEFAULT_ADMIN_USER;
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new UnleashStartError(`the Unleash port must be from 1 to 65535, got ${options.port}`);
  }
  checkInitTokens(options.adminToken, options.clientToken);

  // Something else answering on the port would pass our health check.
  if (await portAnswers(host, options.port)) {
    throw new UnleashStartError(
      `port ${options.port} on ${host} is already in use. If an Unleash runs there, use it (UNLEASH_URL=${url}); ` +
        'else stop what uses the port or set UNLEASH_PORT.',
    );
  }
  try {
    await ensureDatabase(options.databaseUrl);
  } catch (err) {
    const reason = isUnavailableError(err)
      ? `Postgres does not answer (${(err as Error).message}); is it running?`
      : `Postgres refused: ${(err as Error).message}`;
    throw new UnleashStartError(
      `cannot create Unleash's database ${redactUrl(options.databaseUrl)}: ${reason} (UNLEASH_DATABASE_URL)`,
      { cause: err },
    );
  }

  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [serverScript()], {
      // Only what Unleash needs: our own DATABASE_URL, PORT or UNLEASH_URL must not leak into it.
      env: {
        DATABASE_URL: options.databaseUrl,
        DATABASE_SSL: 'false',
        HTTP_HOST: host,
        HTTP_PORT: String(options.port),
        // Unleash uses it for links in its UI and event log.
        UNLEASH_URL: url,
        INIT_ADMIN_API_TOKENS: options.adminToken,
        INIT_BACKEND_API_TOKENS: options.clientToken,
        UNLEASH_DEFAULT_ADMIN_USERNAME: adminUser.username,
        UNLEASH_DEFAULT_ADMIN_PASSWORD: adminUser.password,
        // No calls home from a dev or test server.
        CHECK_VERSION: 'false',
        SEND_TELEMETRY: 'false',
        LOG_LEVEL: 'info',
        // Otherwise Unleash answers errors with stack-trace pages.
        NODE_ENV: 'production',
      },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killTimer);
    })();
    return stopping;
  };

  try {
    await waitForHealth(child, url, logFile, options.startTimeoutMs ?? 90_000);
    await checkTokensAccepted(url, options, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, logFile, process: child, stop };
}

/** Unleash creates init tokens from `<projects>:<environment>.<secret>`, and crashes on other shapes. */
function checkInitTokens(adminToken: string, clientToken: string): void {
  if (!/^\*:\*\.\S+$/.test(adminToken)) {
    throw new UnleashStartError(
      `UNLEASH_ADMIN_TOKEN must look like "*:*.<secret>" for Unleash to create it, got "${adminToken}"`,
    );
  }
  if (!/^[\w-]+:[\w-]+\.\S+$/.test(clientToken)) {
    throw new UnleashStartError(
      `UNLEASH_CLIENT_TOKEN must look like "default:development.<secret>" for Unleash to create it, got "${clientToken}"`,
    );
  }
}

async function waitForHealth(child: ChildProcess, url: string, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new UnleashStartError(
        `Unleash exited while starting (${child.signalCode ?? `exit code ${child.exitCode}`}); see ${logFile}${lastLogLine(logFile)}`,
      );
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new UnleashStartError(
    `Unleash did not answer ${url}/health within ${timeoutMs / 1000} s; see ${logFile}${lastLogLine(logFile)}`,
  );
}

/**
 * Unleash creates the init tokens only when its database has no tokens yet;
 * a database first started with other tokens would refuse ours with a 401
 * at every call. Say so now, once, instead.
 */
async function checkTokensAccepted(url: string, options: UnleashServerOptions, logFile: string): Promise<void> {
  const checks = [
    { variable: 'UNLEASH_ADMIN_TOKEN', token: options.adminToken, path: '/api/admin/projects/default/features' },
    { variable: 'UNLEASH_CLIENT_TOKEN', token: options.clientToken, path: '/api/client/features' },
  ];
  for (const { variable, token, path } of checks) {
    const res = await fetch(`${url}${path}`, {
      headers: { Authorization: token },
      signal: AbortSignal.timeout(5_000),
    });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403) {
      throw new UnleashStartError(
        `Unleash refused ${variable} (${res.status}): its database ${databaseNameOf(options.databaseUrl)} ` +
          `(${redactUrl(options.databaseUrl)}) was first started with other tokens, and Unleash only creates ` +
          `tokens on a first start. Set ${variable} to the one it has, or drop that database to start afresh. See ${logFile}`,
      );
    }
    if (!res.ok) throw new UnleashStartError(`Unleash answered ${path} with ${res.status}; see ${logFile}`);
  }
}

function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The log's last error line (else its last line), without colour codes, to put the cause into a one-line error. */
function lastLogLine(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8')
      .split('\n')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour codes Unleash's logger writes.
      .map((line) => line.replace(/\u001b\[[0-9;]*m/g, '').trim())
      .filter(Boolean);
    // Unleash logs "[ERROR] ..." lines, then prints the error ("error: ...") and its fields on exit.
    const last = lines.findLast((line) => /\[ERROR\]|^(\w*Error|error):/.test(line)) ?? lines.at(-1);
    return last ? `: ${last.slice(0, 300)}` : '';
  } catch {
    return '';
  }
}
