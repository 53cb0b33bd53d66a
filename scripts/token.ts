/**
 * Prints a bearer token for a user id, for development: `npm run -s token -- alice`.
 * Signs HS256 with AUTH_JWT_SECRET when set (from the environment or `.env`), else with the fixed
 * development secret the service uses when no auth is configured. Refuses in production, and
 * when the service verifies tokens against an identity provider's keys (AUTH_JWKS_URL).
 */
import 'reflect-metadata';
import { SignJWT } from 'jose';
import { AppConfig } from '../src/config/app-config';
import { validateEnvironment } from '../src/config/environment';
import { readEnvironment } from '../src/config/environment-file';

const TOKEN_LIFETIME = '24h';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/**
 * A development token for `userId`, signed as the service configured from this environment
 * verifies it. Throws, with the reason, in production and when tokens come from a JWKS.
 */
export async function mintDevelopmentToken(userId: string): Promise<string> {
  // Like the service: `.env` is read in development; variables already set win.
  const config = AppConfig.fromEnvironment(validateEnvironment(readEnvironment()));
  if (config.nodeEnv === 'production') {
    throw new Error('Refusing to mint tokens with NODE_ENV=production.');
  }
  const { jwtSecret, issuer, audience, jwksUrl } = config.auth;
  if (!jwtSecret) {
    throw new Error(
      `Tokens are verified with ${jwksUrl ?? 'AUTH_JWKS_URL'}: get one from that identity provider.`,
    );
  }
  const token = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(TOKEN_LIFETIME);
  if (issuer) token.setIssuer(issuer);
  if (audience) token.setAudience(audience);
  return token.sign(new TextEncoder().encode(jwtSecret));
}

async function main(): Promise<void> {
  const userId = process.argv[2];
  if (!userId || userId.trim() === '' || process.argv.length > 3) {
    fail('Usage: npm run -s token -- <userId>');
  }
  process.stdout.write(`${await mintDevelopmentToken(userId)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
}
