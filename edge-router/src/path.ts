/**
 * The request path is normalised and checked ONCE, before the routing
 * decision, and the upstream receives exactly the path the decision saw.
 * Forms that different parsers read differently, and that could therefore
 * carry a request around its rule, are refused instead of "fixed":
 * encoded slashes or backslashes, dot segments (plain or encoded), empty
 * segments (`//`), NUL and other control bytes, and percent-encoding that is
 * not valid UTF-8 (which includes overlong forms such as `%C0%AE`).
 */

export type PathCheck = { ok: true; path: string; segments: string[]; query: string } | { ok: false; reason: string };

const MAX_URL_LENGTH = 4096;

function refuse(reason: string): PathCheck {
  return { ok: false, reason };
}

export function normalisePath(rawUrl: string): PathCheck {
  if (rawUrl.length > MAX_URL_LENGTH) return refuse(`the URL is longer than ${MAX_URL_LENGTH} characters`);
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q);
  if (!rawPath.startsWith('/')) return refuse('the path must start with /');
  if (hasControlOrBackslash(rawUrl)) return refuse('the URL contains a control character or a backslash');
  if (/%(?:0[0-9a-f]|1[0-9a-f]|7f)/i.test(rawUrl)) return refuse('the URL contains an encoded control character');
  if (rawPath === '/') return { ok: true, path: '/', segments: [''], query };
  const rawSegments = rawPath.slice(1).split('/');
  const segments: string[] = [];
  for (let i = 0; i < rawSegments.length; i++) {
    const raw = rawSegments[i] as string;
    if (raw === '' && i < rawSegments.length - 1) return refuse('the path contains an empty segment (//)');
    if (/%2f|%5c/i.test(raw)) return refuse('the path contains an encoded slash or backslash');
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return refuse('the path has invalid percent-encoding or invalid UTF-8');
    }
    if (decoded === '.' || decoded === '..') return refuse('the path contains a dot segment');
    segments.push(decoded);
  }
  // Re-encode each decoded segment the one canonical way, so `%31` and `1`
  // reach the upstream identically and match the same rule.
  const path = `/${segments.map(encodeSegment).join('/')}`;
  return { ok: true, path, segments, query };
}

function hasControlOrBackslash(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}

/** encodeURIComponent, but keeping the sub-delimiters and `:@` that are legal in a path segment. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(?:3A|40|21|24|26|27|28|29|2A|2B|2C|3B|3D)/g, (m) =>
    decodeURIComponent(m),
  );
}
