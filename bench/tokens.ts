import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HS256 JSON Web Tokens with node:crypto alone. The benchmark signs one token per user; the
 * floor verifies them with the same few lines, since it is a measuring stick, not the product.
 */
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export function signToken(secret: string, userId: string, ttlSeconds = 6 * 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({ sub: userId, iat: now, exp: now + ttlSeconds }),
  ).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

export interface VerifiedToken {
  sub: string;
}

/** specification §3: 60 s of clock skew is allowed. */
const CLOCK_SKEW_SECONDS = 60;

/**
 * Verifies an HS256 token: the header must say HS256, the signature must match, `exp` is
 * required and checked, `nbf` is honoured. Returns null for any token that fails.
 */
export function verifyToken(secret: string, token: string): VerifiedToken | null {
  const [header, payload, signature, extra] = token.split('.');
  if (!header || !payload || !signature || extra !== undefined) return null;
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const { alg } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: unknown };
    if (alg !== 'HS256') return null;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as {
      sub?: unknown;
      exp?: unknown;
      nbf?: unknown;
    };
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp < now - CLOCK_SKEW_SECONDS) return null;
    if (typeof claims.nbf === 'number' && claims.nbf > now + CLOCK_SKEW_SECONDS) return null;
    if (typeof claims.sub !== 'string' || claims.sub === '') return null;
    return { sub: claims.sub };
  } catch {
    return null;
  }
}
