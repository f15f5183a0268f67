import { createSigner, createVerifier } from 'fast-jwt';

/**
 * ShopCo tokens: HS256 JWTs, `sub` = the user id as a string, `iss` = shopco.
 * Every service that accepts them shares JWT_SECRET, which is what keeps a
 * user logged in while their routes move from the monolith to a service. The
 * monolith and the users service both issue and verify them with this one
 * module, so a token from either side is accepted by the other.
 */

/** Stays `shopco` in every service: a token must not say which side issued it. */
export const TOKEN_ISSUER = 'shopco';

/**
 * The JWT_SECRET a service uses when none is set. Shared so every service
 * accepts the others' tokens out of the box in development, and so each
 * service's config can refuse it in production.
 */
export const DEVELOPMENT_JWT_SECRET = 'shopco-dev-secret-change-me';

/**
 * The development token of the products service's internal inventory API,
 * which ShopCo's orders call once products owns stock: both sides default to
 * it, and both refuse it in production.
 */
export const DEVELOPMENT_INTERNAL_API_TOKEN = 'strangler-dev-internal-token';

export interface TokenService {
  issue(userId: number): string;
  /** The user id in a valid token, or null for a bad, expired or foreign one. */
  verify(token: string): number | null;
}

export function createTokenService(secret: string, ttlSeconds: number): TokenService {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000, iss: TOKEN_ISSUER });
  const decode = createVerifier({ key: secret, algorithms: ['HS256'], allowedIss: TOKEN_ISSUER, cache: true });
  return {
    issue: (userId) => sign({ sub: String(userId) }),
    verify: (token) => {
      try {
        const payload = decode(token) as { sub?: unknown };
        const id = typeof payload.sub === 'string' && /^[1-9]\d{0,9}$/.test(payload.sub) ? Number(payload.sub) : NaN;
        return Number.isSafeInteger(id) ? id : null;
      } catch {
        return null;
      }
    },
  };
}
