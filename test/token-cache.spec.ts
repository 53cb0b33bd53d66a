import { ExpiredTokenError, InvalidTokenError } from '../src/auth/auth.errors';
import { TokenVerifier } from '../src/auth/token-verifier';
import { TEST_JWT_SECRET } from './support/test-app';
import { signToken } from './support/tokens';

// The bounded cache of verified tokens (a benchmark lever): a hit skips the signature check,
// and nothing about which tokens are accepted changes.
describe('TokenVerifier cache of verified tokens', () => {
  const settings = {
    jwtSecret: TEST_JWT_SECRET,
    jwksUrl: null,
    issuer: null,
    audience: null,
    usesDevelopmentSecret: false,
  };
  let verifier: TokenVerifier;
  let signatureChecks: jest.SpyInstance;

  beforeEach(async () => {
    verifier = await TokenVerifier.create(settings);
    signatureChecks = jest.spyOn(
      verifier as unknown as { verifyAndDecode: (token: string) => Promise<unknown> },
      'verifyAndDecode',
    );
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('checks a token once, then answers from the cache until it expires', async () => {
    const token = await signToken('cached-user');
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(second).toEqual(first);
    expect(first.subject).toBe('cached-user');
    expect(signatureChecks).toHaveBeenCalledTimes(1);
  });

  it('checks again once the cached token has expired, and refuses it', async () => {
    const token = await signToken('short-lived', { expiresIn: 5 });
    const { expiresAt } = await verifier.verify(token);
    // The clock (only the clock) moves past `exp` and past the 60 s tolerance.
    jest.useFakeTimers({
      now: (expiresAt + 61) * 1000,
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'setTimeout', 'clearTimeout'],
    });
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(ExpiredTokenError);
    expect(signatureChecks).toHaveBeenCalledTimes(2);
  });

  it('never remembers a failure, and a tampered copy of a cached token is checked and refused', async () => {
    const token = await signToken('someone');
    await verifier.verify(token);
    const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    await expect(verifier.verify(tampered)).rejects.toBeInstanceOf(InvalidTokenError);
    await expect(verifier.verify(tampered)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(signatureChecks).toHaveBeenCalledTimes(3);
  });
});
