import {
  createRemoteJWKSet,
  type CryptoKey,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { AuthSettings } from '../config/app-config';
import { ExpiredTokenError, InvalidTokenError, KeySetUnavailableError } from './auth.errors';

/** What a verified token says about its caller. */
export interface VerifiedToken {
  /** The `sub` claim: the owner id of specification §1. */
  subject: string;
  /** The `exp` claim (seconds since the epoch): how long a cache may trust this result. */
  expiresAt: number;
}

/** Fixed by configuration, never by the token: `alg: none` and algorithm confusion are refused. */
export const SECRET_ALGORITHMS = ['HS256'];
export const KEY_SET_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];
export const CLOCK_TOLERANCE_SECONDS = 60;

/**
 * Verifies bearer tokens with jose: HS256 with AUTH_JWT_SECRET, or the keys of AUTH_JWKS_URL
 * (fetched once, cached, refetched when a token names an unknown `kid`). The key and options are
 * built once at start-up; `verify` is the single entry point, so a bounded cache of verified
 * tokens (keyed by token, valid until `expiresAt`) can wrap it without touching callers.
 */
export class TokenVerifier {
  private readonly options: JWTVerifyOptions;
  private readonly verified = new VerifiedTokenCache(VERIFIED_TOKEN_CACHE_SIZE);

  private constructor(
    private readonly key: CryptoKey | JWTVerifyGetKey,
    algorithms: string[],
    settings: AuthSettings,
  ) {
    this.options = {
      algorithms,
      issuer: settings.issuer ?? undefined,
      audience: settings.audience ?? undefined,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'sub'],
    };
  }

  static async create(settings: AuthSettings): Promise<TokenVerifier> {
    if (settings.jwksUrl) {
      return new TokenVerifier(
        remoteKeySet(new URL(settings.jwksUrl)),
        KEY_SET_ALGORITHMS,
        settings,
      );
    }
    if (settings.jwtSecret) {
      // Imported once: given raw bytes, jose would import the key again for every token.
      const key = await crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(settings.jwtSecret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      return new TokenVerifier(key, SECRET_ALGORITHMS, settings);
    }
    throw new Error('No AUTH_JWT_SECRET or AUTH_JWKS_URL: bearer tokens cannot be verified');
  }

  /**
   * A token verified before is trusted until its `exp` (a signature check costs about as much
   * as the database query a request makes); a failed verification is never remembered.
   */
  async verify(token: string): Promise<VerifiedToken> {
    const known = this.verified.get(token);
    if (known) return known;
    const verified = await this.verifyAndDecode(token);
    this.verified.set(token, verified);
    return verified;
  }

  private async verifyAndDecode(token: string): Promise<VerifiedToken> {
    try {
      const { payload } =
        typeof this.key === 'function'
          ? await jwtVerify(token, this.key, this.options)
          : await jwtVerify(token, this.key, this.options);
      const subject = payload.sub;
      if (typeof subject !== 'string' || subject.trim() === '') {
        throw new InvalidTokenError('The bearer token has no subject');
      }
      return { subject, expiresAt: payload.exp as number };
    } catch (error) {
      throw translateVerificationError(error);
    }
  }
}

/** How many verified tokens are remembered: at ~0.3 KB each, a few MB at most. */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** Verified tokens by their exact text, until they expire; the oldest entry goes first when full. */
class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(private readonly capacity: number) {}

  get(token: string): VerifiedToken | undefined {
    const entry = this.entries.get(token);
    if (entry && entry.expiresAt * 1000 <= Date.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return entry;
  }

  set(token: string, verified: VerifiedToken): void {
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(token, verified);
  }
}

/**
 * The identity provider's keys (jose caches them, and refetches at most every 30 s when a token
 * names an unknown `kid`). A key set that cannot be fetched or parsed is not the caller's fault:
 * answering 401 would sign users out during an outage of the identity provider.
 */
function remoteKeySet(url: URL): JWTVerifyGetKey {
  const keySet = createRemoteJWKSet(url);
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys
      ) {
        throw error;
      }
      throw new KeySetUnavailableError();
    }
  };
}

function translateVerificationError(error: unknown): Error {
  if (error instanceof InvalidTokenError || error instanceof KeySetUnavailableError) return error;
  if (error instanceof errors.JWTExpired) return new ExpiredTokenError();
  // jose's messages name the failed check ("signature verification failed", '"iss" claim check
  // failed'), never a key or a claim's value.
  const reason = error instanceof errors.JOSEError ? `: ${error.message}` : '';
  return new InvalidTokenError(`The bearer token is invalid${reason}`);
}
