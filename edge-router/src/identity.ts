import { randomUUID } from 'node:crypto';
import { TOKEN_ISSUER } from '@strangler/foundation';
import { createVerifier } from 'fast-jwt';

/**
 * Who is asking, for rollout stickiness: the user id from a valid ShopCo
 * token when there is one, else a session id kept in a cookie the router sets.
 * One person therefore sees one side consistently, and the same user sees the
 * same side from every device once logged in.
 */

export const SESSION_COOKIE = 'strangler_sid';
const SESSION_ID = /^[0-9a-f-]{36}$/;

export interface Identity {
  stickyId: string;
  /** A new session id to set as a cookie on the response, if one was made. */
  newSession: string | null;
}

export type IdentityResolver = (authorization: string | undefined, cookie: string | undefined) => Identity;

export function createIdentityResolver(jwtSecret: string): IdentityResolver {
  const verify = createVerifier({ key: jwtSecret, algorithms: ['HS256'], allowedIss: TOKEN_ISSUER, cache: 1000 });
  return (authorization, cookie) => {
    if (authorization?.startsWith('Bearer ')) {
      try {
        const { sub } = verify(authorization.slice(7).trim()) as { sub?: unknown };
        if (typeof sub === 'string' && /^\d{1,10}$/.test(sub)) return { stickyId: sub, newSession: null };
      } catch {
        // An invalid token routes like an anonymous request; the upstream answers its 401.
      }
    }
    const session = readCookie(cookie, SESSION_COOKIE);
    if (session && SESSION_ID.test(session)) return { stickyId: `session:${session}`, newSession: null };
    const fresh = randomUUID();
    return { stickyId: `session:${fresh}`, newSession: fresh };
  };
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`;
}

/** The read-your-writes cookie of a context: set on a write's answer, it lives `seconds`. */
export function recentWriteCookieName(context: string): string {
  return `strangler_rw_${context}`;
}

export function recentWriteCookie(context: string, seconds: number): string {
  return `${recentWriteCookieName(context)}=1; Path=/; HttpOnly; SameSite=Lax; Max-Age=${seconds}`;
}
