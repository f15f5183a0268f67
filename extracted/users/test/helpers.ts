import type { Env } from '@strangler/foundation';
import { freshDatabase, type TestDatabase } from '@strangler/foundation/testing';
import { buildApp as buildMonolith } from '@strangler/monolith';
import { testConfig as monolithTestConfig } from '@strangler/monolith/config';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

export interface Started {
  app: FastifyInstance;
  db: TestDatabase;
  /** Base URL of the listening server, for real HTTP. */
  url: string;
  close(): Promise<void>;
}

async function start(
  kind: 'users' | 'monolith',
  build: (databaseUrl: string) => Promise<FastifyInstance>,
): Promise<Started> {
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

/** The users service on a fresh database cloned from the migrated `users` template, on a free port. */
export function startUsersService(env: Env = {}): Promise<Started> {
  return start('users', (url) => buildApp(testConfig({ ...env, DATABASE_URL: url })));
}

/** ShopCo on a fresh monolith database, on a free port: the reference the service must answer like. */
export function startMonolith(env: Env = {}): Promise<Started> {
  return start('monolith', (url) => buildMonolith(monolithTestConfig({ ...env, DATABASE_URL: url })));
}

export {
  type Call,
  type CallOptions,
  client,
  errorCode,
  type JsonResponse,
  signUp,
} from '@strangler/foundation/testing';
