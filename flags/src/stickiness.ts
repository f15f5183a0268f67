/**
 * Which rollout bucket (1..100) a user falls in for a flag: the same
 * MurmurHash3 of `<groupId>:<userId>` that Unleash's flexibleRollout uses, so
 * our decision and Unleash's `isEnabled` agree for every user. A user is in
 * when `bucket <= percent`; the bucket never changes, so raising the % only
 * ever adds users to the service and never moves one back.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * MurmurHash3 x86 32-bit as the `murmurhash3js` package (used by Unleash's
 * SDKs) computes it: one byte per UTF-16 code unit, its low 8 bits. That is
 * plain MurmurHash3 for ASCII ids, and equal to Unleash's answer for all.
 */
export function murmur3(text: string, seed = 0): number {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  const blocks = bytes.length >>> 2;
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i++) {
    const o = i * 4;
    let k =
      (bytes[o] as number) |
      ((bytes[o + 1] as number) << 8) |
      ((bytes[o + 2] as number) << 16) |
      ((bytes[o + 3] as number) << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    // The last 1-3 bytes, little-endian, mixed once.
    let k = 0;
    if (rest === 3) k ^= (bytes[tail + 2] as number) << 16;
    if (rest >= 2) k ^= (bytes[tail + 1] as number) << 8;
    k ^= bytes[tail] as number;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function rolloutBucket(groupId: string, stickyId: string): number {
  return (murmur3(`${groupId}:${stickyId}`) % 100) + 1;
}

export function inRollout(groupId: string, stickyId: string, percent: number): boolean {
  return percent > 0 && rolloutBucket(groupId, stickyId) <= percent;
}
