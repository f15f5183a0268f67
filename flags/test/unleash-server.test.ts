import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { databaseUrlFor, withAdminClient } from '@strangler/foundation';
import { testServerUrls } from '@strangler/foundation/testing';
import { describe, expect, it } from 'vitest';
import { UnleashStartError } from '../src/errors.ts';
import { startUnleashServer, type UnleashServerOptions } from '../src/unleash-server.ts';
import { deadUrl, tempDir } from './helpers.ts';

const freePort = async (): Promise<number> => Number(new URL(await deadUrl()).port);

/** Starting Unleash itself is covered by the global setup; these are the ways it fails. */

const options = (over: Partial<UnleashServerOptions>): UnleashServerOptions => ({
  databaseUrl: databaseUrlFor(testServerUrls().databaseUrl, 'strangler_t_0_unused'),
  port: 1,
  adminToken: '*:*.admin',
  clientToken: 'default:development.client',
  ...over,
});

describe('startUnleashServer', () => {
  it('refuses a port something already answers on, instead of mistaking it for Unleash', async () => {
    const other = createServer().listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const { port } = other.address() as { port: number };
      await expect(startUnleashServer(options({ port }))).rejects.toThrow(
        new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*UNLEASH_URL`),
      );
    } finally {
      other.close();
    }
  });

  it('refuses tokens Unleash could not create', async () => {
    await expect(startUnleashServer(options({ adminToken: 'secret' }))).rejects.toThrow(
      /UNLEASH_ADMIN_TOKEN must look like "\*:\*\.<secret>"/,
    );
    await expect(startUnleashServer(options({ clientToken: '*:*.x' }))).rejects.toThrow(
      /UNLEASH_CLIENT_TOKEN must look like "default:development\.<secret>"/,
    );
  });

  it('says why, with the log file, when Unleash exits while starting', { timeout: 60_000 }, async () => {
    const serverUrl = testServerUrls().databaseUrl;
    // A database that exists but takes no connections: Unleash fails at its first query and exits.
    const name = `strangler_t_${Math.floor(Date.now() / 1000)}_noconn_${process.pid}`;
    await withAdminClient(serverUrl, async (c) => {
      await c.query(`CREATE DATABASE "${name}"`);
      await c.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    });
    const logs = await tempDir();
    try {
      const logFile = join(logs.path, 'unleash.log');
      const failure = await startUnleashServer(
        options({
          databaseUrl: databaseUrlFor(serverUrl, name),
          port: await freePort(),
          logFile,
          startTimeoutMs: 30_000,
        }),
      ).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(UnleashStartError);
      expect((failure as Error).message).toMatch(
        new RegExp(`^Unleash exited while starting .*; see ${logFile}: .*not currently accepting connections`),
      );
    } finally {
      await withAdminClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}"`));
      await logs.remove();
    }
  });
});
