import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { acquireTestLock, cloneDatabase, type TestDatabase } from './databases.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    /** Template database name per database kind, e.g. `{ monolith: 'strangler_tpl_monolith_ab12' }`. */
    templates: Record<string, string>;
    /** The run's Unleash (flags/src/testing.ts): base URL and its admin and backend (client) API tokens. */
    unleashUrl: string;
    unleashAdminToken: string;
    unleashClientToken: string;
  }
}

/** A new database cloned from the migrated template of `kind`; drop it in afterAll. */
export async function freshDatabase(kind: string): Promise<TestDatabase> {
  const template = inject('templates')[kind];
  if (!template) throw new Error(`no template database for "${kind}"; is it built in vitest.global-setup.ts?`);
  return cloneDatabase(inject('databaseUrl'), template);
}

export function testServerUrls(): { databaseUrl: string; redisUrl: string } {
  return { databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl') };
}

/** Serialises the test files that change the run's Unleash flags; call in beforeAll, release in afterAll. */
export function lockFlags(): Promise<() => Promise<void>> {
  return acquireTestLock(inject('databaseUrl'), 'unleash-flags');
}

/** An app listening on a free port, on a fresh database of its own. */
export interface StartedApp {
  app: FastifyInstance;
  db: TestDatabase;
  /** Base URL of the listening server, for real HTTP. */
  url: string;
  /** Closes the app, then drops its database. */
  close(): Promise<void>;
}

/** Builds an app (ShopCo, a service) on a fresh database of `kind` and listens on 127.0.0.1, port 0. */
export async function startOnFreshDatabase(
  kind: string,
  build: (databaseUrl: string) => Promise<FastifyInstance>,
): Promise<StartedApp> {
  const db = await freshDatabase(kind);
  let app: FastifyInstance;
  let url: string;
  try {
    app = await build(db.url);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await db.drop();
    throw err;
  }
  return {
    app,
    db,
    url,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}
