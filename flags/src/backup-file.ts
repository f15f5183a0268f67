import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ClientFeaturesResponse } from 'unleash-client';

/**
 * The last-known-good flags on disk: unleash-client's own backup format
 * (`{ version, features, segments }`) plus the time we wrote it. One file at
 * an explicit path, where unleash-client's FileStorageProvider wants a folder
 * and names the file after the app; several processes may share it, so it is
 * replaced atomically (write a temporary file, then rename).
 */

export type FeatureDefinitions = ClientFeaturesResponse['features'];

export interface FlagBackup {
  features: FeatureDefinitions;
  segments: NonNullable<ClientFeaturesResponse['segments']>;
  /** When the file was written, i.e. when these flags last came from Unleash; null when unknown. */
  savedAt: Date | null;
}

export type BackupRead =
  | { kind: 'found'; backup: FlagBackup }
  | { kind: 'missing' }
  | { kind: 'unreadable'; reason: string };

/** Reads the backup synchronously: it runs once at start, so the first snapshot already has it. */
export function readBackupFile(path: string): BackupRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: (err as Error).message };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { kind: 'unreadable', reason: `not JSON (${(err as Error).message})` };
  }
  if (!data || typeof data !== 'object' || !Array.isArray((data as { features?: unknown }).features)) {
    return { kind: 'unreadable', reason: 'no "features" list in it' };
  }
  const { features, segments, savedAt } = data as {
    features: FeatureDefinitions;
    segments?: unknown;
    savedAt?: unknown;
  };
  const saved = typeof savedAt === 'string' ? new Date(savedAt) : null;
  return {
    kind: 'found',
    backup: {
      features,
      segments: Array.isArray(segments) ? segments : [],
      savedAt: saved && !Number.isNaN(saved.getTime()) ? saved : null,
    },
  };
}

export async function writeBackupFile(path: string, data: ClientFeaturesResponse, now = new Date()): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const body = { version: data.version, features: data.features, segments: data.segments ?? [], savedAt: now };
  try {
    await writeFile(temporary, `${JSON.stringify(body, null, 2)}\n`);
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
