import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { UnleashAdminApi } from '../src/admin-api.ts';

/** The run's Unleash, from vitest.global-setup.ts. */
export function testUnleash(): { url: string; adminToken: string; clientToken: string } {
  return {
    url: inject('unleashUrl'),
    adminToken: inject('unleashAdminToken'),
    clientToken: inject('unleashClientToken'),
  };
}

export function adminApi(): UnleashAdminApi {
  const { url, adminToken } = testUnleash();
  return new UnleashAdminApi({ url, token: adminToken });
}

/** Polls `check` until it returns true; returns how long that took. Fails after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000, everyMs = 25): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return Date.now() - started;
}

/** A URL where nothing listens: a port that was free a moment ago. */
export async function deadUrl(): Promise<string> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'strangler-flags-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A tiny HTTP forwarder in front of the shared Unleash: stopping it is
 * "Unleash went away" for one client, without touching the Unleash every
 * other test uses. It can start again on the same port.
 */
export interface SwitchableProxy {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Answer every request with this status instead of forwarding (null: forward again). */
  answerWith(status: number | null): void;
}

export async function startProxy(target: string): Promise<SwitchableProxy> {
  const targetUrl = new URL(target);
  let server: Server | undefined;
  let port = 0;
  let answerWith: number | null = null;
  const start = async (): Promise<void> => {
    server = createServer((req, res) => {
      if (answerWith !== null) {
        req.resume();
        res.writeHead(answerWith, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const upstream = request(
        { host: targetUrl.hostname, port: targetUrl.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    start,
    answerWith: (status) => {
      answerWith = status;
    },
    stop: async () => {
      if (!server) return;
      const closing = once(server, 'close');
      server.close();
      // Keep-alive connections would otherwise keep answering.
      server.closeAllConnections();
      await closing;
      server = undefined;
    },
  };
}
