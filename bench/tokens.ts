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
  /** Seconds since the epoch. */
  exp: number;
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
    return { sub: claims.sub, exp: claims.exp };
  } catch {
    return null;
  }
}

/** How many verified tokens the floor remembers: as many as the service (about 3 MB). */
export const VERIFIED_TOKENS = 10_000;

/**
 * Verified tokens remembered by their exact text until their `exp`, as the service does; the
 * oldest goes first past `capacity`, and a token that failed is never remembered.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(
    private readonly secret: string,
    private readonly capacity = VERIFIED_TOKENS,
  ) {}

  verify(token: string): VerifiedToken | null {
    const known = this.entries.get(token);
    if (known && known.exp * 1000 > Date.now()) return known;
    if (known) this.entries.delete(token);
    const verified = verifyToken(this.secret, token);
    if (!verified) return null;
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(token, verified);
    return verified;
  }
}
