import type { Env } from '@strangler/foundation';
import { type StartedApp, startOnFreshDatabase } from '@strangler/foundation/testing';
import { buildApp as buildMonolith } from '@strangler/monolith';
import { testConfig as monolithTestConfig } from '@strangler/monolith/config';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

export type Started = StartedApp;

/** The users service on a fresh database cloned from the migrated `users` template, on a free port. */
export function startUsersService(env: Env = {}): Promise<Started> {
  return startOnFreshDatabase('users', (url) => buildApp(testConfig({ ...env, DATABASE_URL: url })));
}

/** ShopCo on a fresh monolith database, on a free port: the reference the service must answer like. */
export function startMonolith(env: Env = {}): Promise<Started> {
  return startOnFreshDatabase('monolith', (url) => buildMonolith(monolithTestConfig({ ...env, DATABASE_URL: url })));
}

export {
  type Call,
  type CallOptions,
  client,
  errorCode,
  type JsonResponse,
  signUp,
} from '@strangler/foundation/testing';
