/**
 * The one redaction list of the project. Whatever operators can see (log
 * lines, shadow mismatches in the admin API and dashboard, dead-letter
 * reasons) goes through these functions, so a password, a password hash, a
 * token or a card number never reaches them, whoever wrote the code that
 * produced it. Docs: docs/security.md.
 */

export const REDACTED = '[redacted]';

/**
 * Field names whose value is a secret wherever they appear, at any depth.
 * Compared without case, `_` and `-`: `password_hash`, `passwordHash` and
 * `Password-Hash` are one name.
 */
export const SENSITIVE_KEYS: readonly string[] = [
  'password',
  'passwordHash',
  'password_hash',
  'newPassword',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'clientSecret',
  'jwtSecret',
  'apiKey',
  'card',
  'cardNumber',
  'authorization',
  'cookie',
  'set-cookie',
  'x-admin-token',
];

const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');
const SENSITIVE = new Set(SENSITIVE_KEYS.map(normalise));

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE.has(normalise(key));
}

/**
 * Secret-shaped text inside free text (an error message, a query string): a
 * password hash in ShopCo's format (`scrypt$N$r$p$salt$hash`) or a common
 * legacy one (bcrypt `$2b$...`, argon2 `$argon2id$...`), a JWT, a bearer
 * credential, a URL's password.
 */
const SECRET_TEXT: ReadonlyArray<readonly [RegExp, string]> = [
  // Also when cut short: Postgres truncates long values in an error's row.
  [/\bscrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+(?:\$[A-Za-z0-9+/=]*)?/g, REDACTED],
  [/\$2[abxy]?\$\d{1,2}\$[./A-Za-z0-9]{53}/g, REDACTED],
  [/\$argon2(?:id|i|d)\$[A-Za-z0-9+/=,$.-]+/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/(\/\/[^:/@\s]+:)[^@/\s]+@/g, `$1${REDACTED}@`],
];

/** Cheap pre-check so most strings skip the regular expressions entirely. */
const MAYBE_SECRET = /\$|eyJ|bearer|basic|@/i;

/** `text` with every secret-shaped part replaced by [redacted]. */
export function redactText(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

const MAX_DEPTH = 32;
const TOO_DEEP = '[redacted: nested too deep]';

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with the value of every sensitive key (at any depth) replaced by
 * [redacted], and secret-shaped text redacted in every string. Plain objects
 * and arrays are walked; other objects (errors, buffers, dates) are kept as
 * they are, for their own serializer. Returns `value` itself, not a copy,
 * when there is nothing to redact, so a clean log line costs no allocation.
 */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (value === null || typeof value !== 'object') return value;
  // Deeper than any log line needs: what is down there is not walked, so it is not shown either.
  if (depth > MAX_DEPTH) return TOO_DEEP as T;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const next = redactDeep(value[i], depth + 1);
      if (next !== value[i]) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return (copy ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(value)) {
    const current = value[key];
    const next = isSensitiveKey(key)
      ? current === null || current === undefined
        ? current
        : REDACTED
      : redactDeep(current, depth + 1);
    if (next !== current) {
      copy ??= { ...value };
      copy[key] = next;
    }
  }
  return (copy ?? value) as T;
}
