import { inject } from 'vitest';
import { cloneDatabase, type TestDatabase } from './databases.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    /** Template database name per database kind, e.g. `{ monolith: 'strangler_tpl_monolith_ab12' }`. */
    templates: Record<string, string>;
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
