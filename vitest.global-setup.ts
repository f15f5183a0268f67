import {
  dropOtherTemplates,
  dropStaleTestDatabases,
  ensureTemplate,
  resolveTestServers,
} from '@strangler/foundation/testing';
import { type DatabaseKind, databases, migrateLatest, schemaFingerprint } from '@strangler/migrations';
import type { TestProject } from 'vitest/node';
import { resolveTestUnleash } from './flags/src/testing.ts';

/**
 * Runs once per test run: finds (or starts) Postgres and Redis, and builds one
 * migrated template database per database kind for test files to clone.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await resolveTestServers();
  await dropStaleTestDatabases(servers.databaseUrl);
  const templates: Record<string, string> = {};
  for (const kind of Object.keys(databases) as DatabaseKind[]) {
    const prefix = `strangler_tpl_${kind}_`;
    const name = `${prefix}${await schemaFingerprint(kind)}`;
    await ensureTemplate(servers.databaseUrl, name, async (url) => {
      await migrateLatest(kind, url);
    });
    await dropOtherTemplates(servers.databaseUrl, prefix, name);
    templates[kind] = name;
  }
  project.provide('databaseUrl', servers.databaseUrl);
  project.provide('redisUrl', servers.redisUrl);
  project.provide('templates', templates);
  // Unleash: UNLEASH_URL when set, else one started for the whole run (about 7 s) on its own database.
  const unleash = await resolveTestUnleash(servers.databaseUrl, process.env).catch(async (err) => {
    await servers.stop();
    throw err;
  });
  project.provide('unleashUrl', unleash.url);
  project.provide('unleashAdminToken', unleash.adminToken);
  project.provide('unleashClientToken', unleash.clientToken);
  return async () => {
    await unleash.stop();
    await servers.stop();
  };
}
