import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagName } from '@strangler/flags';
import { freePort } from '@strangler/foundation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * SIGTERM to a real router process (src/server.ts) while requests are in
 * flight to a slow monolith: the router stops taking connections at once,
 * answers every request it had with the upstream's answer (a write included:
 * it was sent once and its answer is not lost), answers one that outlives
 * its upstream timeout with the documented 504 instead of dropping it, and
 * exits 0. Times are reported, not asserted; the bounds are generous
 * timeouts.
 */

const SERVER = join(import.meta.dirname, '../src/server.ts');
/** The router's own bound on a monolith request: the request that never gets an answer is answered at this. */
const MONOLITH_TIMEOUT_MS = 3_000;

interface Held {
  method: string;
  url: string;
  body: string;
  answer(): void;
}

/** A monolith that holds every API request until the test lets it answer (or forever, for /api/users/999). */
const held: Held[] = [];
let monolith: Server;
let monolithUrl: string;
let logDir: string;
const routers: ChildProcess[] = [];

interface RouterProcess {
  child: ChildProcess;
  url: string;
  log(): string;
}

/** A router process in front of the slow monolith; `env` adds to (or overrides) its settings. */
async function startRouter(env: Record<string, string> = {}): Promise<RouterProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      MONOLITH_URL: monolithUrl,
      MONOLITH_TIMEOUT_MS: String(MONOLITH_TIMEOUT_MS),
      // No flag server and no backup: every route goes to the monolith (invariant 4). No Redis: no write fence.
      UNLEASH_URL: 'http://127.0.0.1:9',
      FLAG_BACKUP_PATH: join(logDir, `flags-backup-${port}.json`),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  routers.push(child);
  let log = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
  }
  await until(
    'the router to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`the router exited (${child.exitCode}):\n${log}`);
      return (await fetch(`${url}/ready`).catch(() => null))?.status === 200;
    },
    () => log,
  );
  return { child, url, log: () => log };
}

function slowMonolith(req: IncomingMessage, res: ServerResponse): void {
  if (!req.url?.startsWith('/api/')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  let body = '';
  req.on('data', (chunk: Buffer) => {
    body += chunk.toString();
  });
  req.on('end', () => {
    const status = req.method === 'POST' ? 201 : 200;
    held.push({
      method: req.method ?? '',
      url: req.url ?? '',
      body,
      answer: () => {
        if (res.headersSent || res.destroyed) return;
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ answeredBy: 'monolith', method: req.method, url: req.url }));
      },
    });
  });
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  log: () => string = () => '',
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; router log:\n${log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a new TCP connection to the router is refused (nothing listens any more). */
function connectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

beforeAll(async () => {
  monolith = createServer(slowMonolith);
  monolith.listen(0, '127.0.0.1');
  await once(monolith, 'listening');
  monolithUrl = `http://127.0.0.1:${(monolith.address() as AddressInfo).port}`;
  logDir = mkdtempSync(join(tmpdir(), 'strangler-router-shutdown-'));
}, 30_000);

afterAll(async () => {
  for (const r of routers) if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL');
  for (const h of held) h.answer();
  monolith?.closeAllConnections();
  await new Promise((r) => monolith?.close(r));
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

const json = { 'content-type': 'application/json' };

describe('the router on SIGTERM', () => {
  it('refuses new connections, answers every request in flight with its upstream answer, and exits 0', async () => {
    const { child: router, url: routerUrl, log } = await startRouter();
    // Reads and writes, each on its own connection (fetch opens one per request in flight).
    const sent = [
      { method: 'GET', path: '/api/users/1' },
      { method: 'GET', path: '/api/products/2' },
      { method: 'POST', path: '/api/users/register', body: { email: 'a@example.test', password: 'pw', name: 'A' } },
      { method: 'PUT', path: '/api/users/3', body: { name: 'B' } },
      { method: 'POST', path: '/api/orders', body: { userId: 3, items: [{ productId: 2, quantity: 1 }] } },
      // Never answered by the monolith: the router's timeout answers it.
      { method: 'GET', path: '/api/users/999' },
    ];
    const answers = sent.map(async (r) => {
      const res = await fetch(`${routerUrl}${r.path}`, {
        method: r.method,
        headers: json,
        ...(r.body ? { body: JSON.stringify(r.body) } : {}),
      });
      return { status: res.status, connection: res.headers.get('connection'), body: await res.json() };
    });
    await until('the monolith to hold every request', () => held.length === sent.length, log);

    const exited = once(router, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const signalledAt = Date.now();
    router.kill('SIGTERM');
    // Nothing new is taken: the listening socket is closed while the requests are still in flight.
    await until('new connections to be refused', () => connectionRefused(routerUrl), log);
    const refusedAfterMs = Date.now() - signalledAt;
    expect(router.exitCode).toBeNull();

    // The monolith answers all but one; the router passes each answer on, then lets the connection go.
    const answered = [...held];
    for (const h of held) if (h.url !== '/api/users/999') h.answer();
    const results = await Promise.all(answers);
    const [code, signal] = await exited;
    const exitedAfterMs = Date.now() - signalledAt;

    for (const [i, r] of sent.entries()) {
      const result = results[i];
      if (r.path === '/api/users/999') {
        expect(result).toMatchObject({ status: 504, body: { error: { code: 'ROUTER_UPSTREAM_TIMEOUT' } } });
      } else {
        expect(result).toMatchObject({
          status: r.method === 'POST' ? 201 : 200,
          connection: 'close',
          body: { answeredBy: 'monolith', method: r.method, url: r.path },
        });
      }
    }
    // Every write reached the monolith exactly once, with its body.
    const writes = answered.filter((h) => h.method !== 'GET').map((h) => `${h.method} ${h.url} ${h.body}`);
    expect(writes).toEqual(
      sent.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body)}`),
    );
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    console.log(
      `router shutdown: new connections refused ${refusedAfterMs} ms after SIGTERM; ` +
        `${sent.length} requests in flight answered, the last by the ${MONOLITH_TIMEOUT_MS} ms upstream timeout; ` +
        `exit 0 ${exitedAfterMs} ms after SIGTERM`,
    );
  }, 30_000);

  it('waits out its longest request before exiting: a read the service times out, then the monolith, gets its 504', async () => {
    held.length = 0;
    // A service that takes requests and never answers, and flags (a backup file) that send every users read to it.
    let serviceSaw = 0;
    const service = createServer((req) => {
      serviceSaw++;
      req.resume();
    });
    service.listen(0, '127.0.0.1');
    await once(service, 'listening');
    const backup = join(logDir, 'reads-at-the-service.json');
    writeFileSync(
      backup,
      JSON.stringify({
        version: 1,
        features: [{ name: flagName('users', 'reads'), enabled: true, strategies: [{ name: 'default' }] }],
      }),
    );
    try {
      // 4 s at the service, then 7 s at the monolith: 11 s, past the 10 s a process used to get to close.
      const {
        child: router,
        url,
        log,
      } = await startRouter({
        USERS_SERVICE_URL: `http://127.0.0.1:${(service.address() as AddressInfo).port}`,
        SERVICE_TIMEOUT_MS: '4000',
        MONOLITH_TIMEOUT_MS: '7000',
        FLAG_BACKUP_PATH: backup,
      });
      const answer = fetch(`${url}/api/users/999`).then(
        async (res) => ({ status: res.status, body: await res.json() }),
        (err: Error) => ({ status: 0, body: String(err.cause ?? err) }),
      );
      await until('the service to take the read', () => serviceSaw > 0, log);
      const exited = once(router, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      const signalledAt = Date.now();
      router.kill('SIGTERM');
      const result = await answer;
      const answeredAfterMs = Date.now() - signalledAt;
      const [code, signal] = await exited;
      const exitedAfterMs = Date.now() - signalledAt;

      expect(result).toMatchObject({ status: 504, body: { error: { code: 'ROUTER_UPSTREAM_TIMEOUT' } } });
      // It fell back to the monolith, which did not answer either.
      expect(held.map((h) => `${h.method} ${h.url}`)).toEqual(['GET /api/users/999']);
      expect({ code, signal }, log()).toEqual({ code: 0, signal: null });
      console.log(
        `router shutdown with an 11 s request in flight: answered 504 ${answeredAfterMs} ms after SIGTERM, exit 0 ${exitedAfterMs} ms after it`,
      );
    } finally {
      service.closeAllConnections();
      await new Promise((r) => service.close(r));
    }
  }, 40_000);
});
