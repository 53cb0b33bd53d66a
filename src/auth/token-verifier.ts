import { type Algorithm, createVerifier, TokenError } from 'fast-jwt';
import {
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { AuthSettings } from '../config/app-config';
import {
  type AuthError,
  ExpiredTokenError,
  InvalidTokenError,
  KeySetUnavailableError,
} from './auth.errors';

/** What a verified token says about its caller. */
export interface VerifiedToken {
  /** The `sub` claim: the owner id of specification §1. */
  subject: string;
  /** The `exp` claim (seconds since the epoch): how long a cache may trust this result. */
  expiresAt: number;
}

/** Fixed by configuration, never by the token: `alg: none` and algorithm confusion are refused. */
export const SECRET_ALGORITHMS: Algorithm[] = ['HS256'];
export const KEY_SET_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];
export const CLOCK_TOLERANCE_SECONDS = 60;

/**
 * Verifies bearer tokens: HS256 with AUTH_JWT_SECRET (fast-jwt), or the keys of AUTH_JWKS_URL
 * (jose; fetched once, cached, refetched when a token names an unknown `kid`). The check is built
 * once at start-up; `verify` is the single entry point, so a bounded cache of verified tokens
 * (keyed by token, valid until `expiresAt`) wraps it without touching callers.
 */
export class TokenVerifier {
  private readonly verified = new VerifiedTokenCache(VERIFIED_TOKEN_CACHE_SIZE);

  private constructor(private readonly check: TokenCheck) {}

  static async create(settings: AuthSettings): Promise<TokenVerifier> {
    if (settings.jwksUrl) {
      return new TokenVerifier(new KeySetCheck(new URL(settings.jwksUrl), settings));
    }
    if (settings.jwtSecret) {
      return new TokenVerifier(new SharedSecretCheck(settings.jwtSecret, settings));
    }
    throw new Error('No AUTH_JWT_SECRET or AUTH_JWKS_URL: bearer tokens cannot be verified');
  }

  /**
   * A token verified before is trusted until its `exp` (a check by jose costs about as much as
   * the database query a request makes); a failed verification is never remembered.
   */
  async verify(token: string): Promise<VerifiedToken> {
    const known = this.verified.get(token);
    if (known) return known;
    const verified = await this.verifyAndDecode(token);
    this.verified.set(token, verified);
    return verified;
  }

  private async verifyAndDecode(token: string): Promise<VerifiedToken> {
    const { sub, exp } = await this.check.payloadOf(token);
    if (typeof sub !== 'string' || sub.trim() === '') {
      throw new InvalidTokenError('The bearer token has no subject');
    }
    return { subject: sub, expiresAt: exp as number };
  }
}

/** The claims read from a token whose signature, algorithm and claims were checked. */
interface TokenPayload {
  sub?: unknown;
  exp?: number;
}

/** One way of checking a token; a refusal is thrown as an AuthError. */
interface TokenCheck {
  payloadOf(token: string): TokenPayload | Promise<TokenPayload>;
}

/** Required in both modes; `iss` and `aud` too when configured. */
const REQUIRED_CLAIMS = ['exp', 'sub'];

/**
 * HS256 with AUTH_JWT_SECRET, by fast-jwt: node:crypto's HMAC, synchronously. jose is
 * WebCrypto-only, so each of its checks is an asynchronous crypto job: measured, about 50 µs of
 * CPU per token against 6 µs here. fast-jwt's own cache stays off, VerifiedTokenCache serves both
 * modes.
 */
class SharedSecretCheck implements TokenCheck {
  private readonly verifyToken: (token: string) => TokenPayload;

  constructor(secret: string, settings: AuthSettings) {
    this.verifyToken = createVerifier({
      key: secret,
      algorithms: SECRET_ALGORITHMS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS * 1000, // fast-jwt counts in milliseconds
      // fast-jwt checks `iss` and `aud` only when the token has them: absent, they must refuse it.
      requiredClaims: [
        ...REQUIRED_CLAIMS,
        ...(settings.issuer ? ['iss'] : []),
        ...(settings.audience ? ['aud'] : []),
      ],
      allowedIss: settings.issuer ?? undefined,
      allowedAud: settings.audience ?? undefined,
      cache: false,
    });
  }

  payloadOf(token: string): TokenPayload {
    let payload: TokenPayload & { iat?: unknown };
    try {
      payload = this.verifyToken(token);
    } catch (error) {
      throw sharedSecretRefusal(error);
    }
    // fast-jwt reads `iat` only for maxAge; jose refuses a non-numeric one, and so does this.
    if (payload.iat !== undefined && (typeof payload.iat !== 'number' || !isFinite(payload.iat))) {
      throw new InvalidTokenError('The bearer token is invalid: "iat" claim must be a number');
    }
    return payload;
  }
}

/** The identity provider's key set, by jose: it fetches the set and picks a key by `kid`. */
class KeySetCheck implements TokenCheck {
  private readonly keys: JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;

  constructor(url: URL, settings: AuthSettings) {
    this.keys = remoteKeySet(url);
    this.options = {
      algorithms: KEY_SET_ALGORITHMS,
      issuer: settings.issuer ?? undefined,
      audience: settings.audience ?? undefined,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: REQUIRED_CLAIMS,
    };
  }

  async payloadOf(token: string): Promise<TokenPayload> {
    try {
      return (await jwtVerify(token, this.keys, this.options)).payload;
    } catch (error) {
      throw keySetRefusal(error);
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

function keySetRefusal(error: unknown): AuthError {
  if (error instanceof KeySetUnavailableError) return error;
  if (error instanceof errors.JWTExpired) return new ExpiredTokenError();
  // jose's messages name the failed check ("signature verification failed", 'unexpected "iss"
  // claim value'), never a key or a claim's value.
  const reason = error instanceof errors.JOSEError ? `: ${error.message}` : '';
  return new InvalidTokenError(`The bearer token is invalid${reason}`);
}

/**
 * fast-jwt's refusals in jose's words, so a token is refused alike in both modes. fast-jwt's own
 * messages are not passed on (its time checks quote the token's `nbf` or `exp`).
 */
function sharedSecretRefusal(error: unknown): AuthError {
  if (!(error instanceof TokenError)) return new InvalidTokenError('The bearer token is invalid');
  if (error.code === TokenError.codes.expired) return new ExpiredTokenError();
  const reason = sharedSecretReason(error);
  return new InvalidTokenError(`The bearer token is invalid${reason ? `: ${reason}` : ''}`);
}

/** The claims fast-jwt checks here; its messages name them, never their values. */
const CHECKED_CLAIM = /\b(exp|nbf|sub|iss|aud)\b/;

function sharedSecretReason({ code, message }: TokenError): string | undefined {
  // Which part or claim failed is said only in fast-jwt's message: only its name is taken from it.
  const claimName = CHECKED_CLAIM.exec(message)?.[1];
  const claim = claimName ? `"${claimName}" claim` : 'claim';
  switch (code) {
    case TokenError.codes.malformed:
      return message.includes('header') ? 'JWS Protected Header is invalid' : 'Invalid Compact JWS';
    case TokenError.codes.invalidPayload:
      return 'JWT Claims Set must be a top-level JSON object';
    case TokenError.codes.invalidAlgorithm:
      return '"alg" (Algorithm) Header Parameter value not allowed';
    case TokenError.codes.invalidCritHeader:
      return '"crit" (Critical) Header Parameter not supported';
    case TokenError.codes.missingSignature:
    case TokenError.codes.invalidSignature:
      return 'signature verification failed';
    case TokenError.codes.inactive:
      return '"nbf" claim timestamp check failed';
    case TokenError.codes.missingRequiredClaim:
      return `missing required ${claim}`;
    case TokenError.codes.invalidClaimType:
    case TokenError.codes.invalidClaimValue:
      return claimName === 'exp' || claimName === 'nbf'
        ? `${claim} must be a number`
        : `unexpected ${claim} value`;
    default:
      return undefined;
  }
}
