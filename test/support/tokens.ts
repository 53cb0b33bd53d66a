import { SignJWT, type JWTPayload } from 'jose';
import { TEST_JWT_SECRET } from './test-app';

const secret = new TextEncoder().encode(TEST_JWT_SECRET);

export interface TokenOptions {
  /** Seconds from now; negative for an expired token. Default: one hour. */
  expiresIn?: number;
  /** Seconds from now for `nbf`. */
  notBefore?: number;
  issuer?: string;
  audience?: string | string[];
  key?: Uint8Array;
  claims?: JWTPayload;
}

const now = (): number => Math.floor(Date.now() / 1000);

/** An HS256 token for `subject`, signed with the test app's secret unless told otherwise. */
export function signToken(
  subject: string | undefined,
  options: TokenOptions = {},
): Promise<string> {
  const jwt = new SignJWT(options.claims ?? {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(now() + (options.expiresIn ?? 3600));
  if (subject !== undefined) jwt.setSubject(subject);
  if (options.notBefore !== undefined) jwt.setNotBefore(now() + options.notBefore);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(options.key ?? secret);
}

/** An unsigned token (`alg: none`), which must never be accepted. */
export function unsignedToken(subject: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: subject, exp: now() + 3600 })}.`;
}

export const bearer = (token: string): { Authorization: string } => ({
  Authorization: `Bearer ${token}`,
});

/** The header as `app.inject()` takes it (lower case), with a token for `subject`. */
export const authHeader = async (subject: string): Promise<{ authorization: string }> => ({
  authorization: `Bearer ${await signToken(subject)}`,
});
