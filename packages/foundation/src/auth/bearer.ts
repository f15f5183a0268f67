/**
 * The token of an `Authorization: Bearer <token>` header, or null when there is
 * none. Shared so the monolith and every service draw the same line between
 * "no token" (AUTH_TOKEN_MISSING) and "a bad token" (AUTH_TOKEN_INVALID).
 */
export function bearerToken(header: string | string[] | undefined): string | null {
  const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim()) : null;
  return match?.[1] ?? null;
}
