import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Whether a presented secret (an admin or internal API token) equals the
 * configured one, in time that depends on neither where the two differ nor
 * their lengths: both are hashed to 32 bytes first, and the digests are
 * compared with `timingSafeEqual` (which itself refuses buffers of different
 * lengths, and so could not be given the raw strings). A missing secret is
 * hashed as well, so "no token" costs what a wrong token costs. An empty
 * configured secret matches nothing: that is a configuration mistake, never
 * an open door.
 */
export function secretMatches(given: string | null | undefined, expected: string): boolean {
  const matches = timingSafeEqual(digest(given ?? ''), digest(expected));
  return matches && given !== null && given !== undefined && expected.length > 0;
}
