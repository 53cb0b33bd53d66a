import { type JWTPayload, SignJWT } from 'jose';
import request from 'supertest';
import { createSigningKey, JwksServer, type SigningKey } from './support/jwks-server';
import { expectProblem } from './support/problem';
import { startTestApp, TestApp, TEST_JWT_SECRET } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-database';
import { bearer, signToken, type TokenOptions, unsignedToken } from './support/tokens';

const tasks = '/api/alice/tasks';
const now = () => Math.floor(Date.now() / 1000);

// specification §3: bearer tokens, checked with fast-jwt (shared secret) or jose (key set); the
// algorithm list is fixed by configuration.
describe('authentication', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  describe('with AUTH_JWT_SECRET (HS256)', () => {
    let testApp: TestApp;
    const get = (headers: Record<string, string> = {}) =>
      request(testApp.app.getHttpServer()).get(tasks).set(headers);

    beforeAll(async () => {
      testApp = await startTestApp({}, database);
    });
    afterAll(() => testApp.close());

    it('accepts a valid token, whatever the case of the scheme', async () => {
      const token = await signToken('alice');
      await get(bearer(token)).expect(200);
      await get({ Authorization: `bearer ${token}` }).expect(200);
    });

    it.each([
      ['no Authorization header', {}],
      ['another scheme', { Authorization: 'Basic YWxpY2U6c2VjcmV0' }],
      ['an empty bearer token', { Authorization: 'Bearer ' }],
    ])('answers MISSING_TOKEN for %s', async (_name, headers) => {
      const response = await get(headers);
      expectProblem(response, 401, 'MISSING_TOKEN');
      expect(response.headers['www-authenticate']).toBe('Bearer realm="tasks"');
    });

    // Each refusal names the check that failed, in the same words in both modes, never a value.
    const invalid = (reason: string) => `The bearer token is invalid: ${reason}`;
    const invalidTokens: [string, () => Promise<string> | string, string][] = [
      ['a malformed token', () => 'not-a-jwt', invalid('Invalid Compact JWS')],
      [
        'a token with a bad signature',
        async () => (await signToken('alice')).slice(0, -4) + 'AAAA',
        invalid('signature verification failed'),
      ],
      [
        'a token signed with another secret',
        () => signToken('alice', { key: new TextEncoder().encode('x'.repeat(40)) }),
        invalid('signature verification failed'),
      ],
      // Unsigned, so refused for its missing signature before its algorithm is looked at.
      [
        'a token with alg: none',
        () => unsignedToken('alice'),
        invalid('signature verification failed'),
      ],
      [
        'a token not valid for another 2 minutes',
        () => signToken('alice', { notBefore: 120 }),
        invalid('"nbf" claim timestamp check failed'),
      ],
      [
        'a token without exp',
        () =>
          new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'HS256' })
            .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
        invalid('missing required "exp" claim'),
      ],
      [
        'a token whose exp is not a number',
        () =>
          new SignJWT({ sub: 'alice', exp: String(now() + 3600) } as unknown as JWTPayload)
            .setProtectedHeader({ alg: 'HS256' })
            .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
        invalid('"exp" claim must be a number'),
      ],
      ['a token without sub', () => signToken(undefined), invalid('missing required "sub" claim')],
      ['a token whose sub is blank', () => signToken('  '), 'The bearer token has no subject'],
      [
        'an HS512 token (not on the allow-list)',
        () =>
          new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'HS512' })
            .setExpirationTime('1h')
            .sign(new TextEncoder().encode(TEST_JWT_SECRET.repeat(2))),
        invalid('"alg" (Algorithm) Header Parameter value not allowed'),
      ],
      [
        'an RS256 token where HS256 is configured',
        async () => {
          const key = await createSigningKey('rsa', 'RS256');
          return new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'RS256' })
            .setExpirationTime('1h')
            .sign(key.privateKey);
        },
        invalid('"alg" (Algorithm) Header Parameter value not allowed'),
      ],
    ];
    it.each(invalidTokens)('answers INVALID_TOKEN for %s', async (_name, makeToken, message) => {
      const response = await get(bearer(await makeToken()));
      expectProblem(response, 401, 'INVALID_TOKEN');
      expect(response.body.detail).toBe(`${message}. Sign in again for a new token.`);
      expect(response.headers['www-authenticate']).toBe(
        'Bearer realm="tasks", error="invalid_token", error_description="The token is invalid"',
      );
    });

    it('answers TOKEN_EXPIRED for an expired token', async () => {
      const response = await get(bearer(await signToken('alice', { expiresIn: -61 - 5 })));
      expectProblem(response, 401, 'TOKEN_EXPIRED');
      expect(response.body.detail).toMatch(/expired/);
    });

    it('allows 60 s of clock skew on exp and nbf', async () => {
      await get(bearer(await signToken('alice', { expiresIn: -30 }))).expect(200);
      await get(bearer(await signToken('alice', { notBefore: 30 }))).expect(200);
    });

    it('ignores issuer and audience when they are not configured', async () => {
      await get(bearer(await signToken('alice', { issuer: 'any', audience: 'any' }))).expect(200);
    });
  });

  describe('with AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE', () => {
    let testApp: TestApp;
    const get = async (token: Promise<string>) =>
      request(testApp.app.getHttpServer())
        .get(tasks)
        .set(bearer(await token));

    beforeAll(async () => {
      testApp = await startTestApp(
        { AUTH_JWT_ISSUER: 'https://auth.example', AUTH_JWT_AUDIENCE: 'tasks-api' },
        database,
      );
    });
    afterAll(() => testApp.close());

    it('accepts the right issuer and audience, and refuses a wrong or missing one', async () => {
      const right = { issuer: 'https://auth.example', audience: 'tasks-api' };
      expect((await get(signToken('alice', right))).status).toBe(200);
      const amongOthers = { ...right, audience: ['other-api', 'tasks-api'] };
      expect((await get(signToken('alice', amongOthers))).status).toBe(200);
      const refusals: [TokenOptions, string][] = [
        [{ ...right, issuer: 'https://evil.example' }, 'unexpected "iss" claim value'],
        [{ ...right, audience: 'other-api' }, 'unexpected "aud" claim value'],
        [{ ...right, audience: ['other-api', 'more-api'] }, 'unexpected "aud" claim value'],
        [{ audience: 'tasks-api' }, 'missing required "iss" claim'],
        [{ issuer: 'https://auth.example' }, 'missing required "aud" claim'],
      ];
      for (const [wrong, reason] of refusals) {
        const response = await get(signToken('alice', wrong));
        expectProblem(response, 401, 'INVALID_TOKEN');
        expect(response.body.detail).toBe(
          `The bearer token is invalid: ${reason}. Sign in again for a new token.`,
        );
      }
    });
  });

  describe('with AUTH_JWKS_URL', () => {
    let jwks: JwksServer;
    let testApp: TestApp;
    let rsa: SigningKey;
    const signWith = (key: SigningKey, subject = 'alice') =>
      new SignJWT({})
        .setProtectedHeader({ alg: key.alg, kid: key.kid })
        .setSubject(subject)
        .setExpirationTime('10m')
        .sign(key.privateKey);
    const get = (token: string) =>
      request(testApp.app.getHttpServer()).get(tasks).set(bearer(token));

    beforeAll(async () => {
      rsa = await createSigningKey('rsa-1', 'RS256');
      const keys = [
        rsa,
        await createSigningKey('ec-1', 'ES256'),
        await createSigningKey('ed-1', 'EdDSA'),
      ];
      jwks = await JwksServer.start(keys);
      testApp = await startTestApp(
        { AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: jwks.url },
        database,
      );
    });
    afterAll(async () => {
      await testApp.close();
      await jwks.close();
    });

    it('accepts RS256, ES256 and EdDSA tokens signed with the published keys, fetching the set once', async () => {
      for (const key of jwks.keys) await get(await signWith(key)).expect(200);
      await get(await signWith(rsa)).expect(200);
      expect(jwks.fetches).toBe(1);
    });

    it('refuses HS256 (even keyed with the public key), alg: none and unknown keys', async () => {
      const confused = await new SignJWT({ sub: 'alice' })
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(JSON.stringify(rsa.publicJwk)));
      expectProblem(await get(confused), 401, 'INVALID_TOKEN');
      expectProblem(await get(unsignedToken('alice')), 401, 'INVALID_TOKEN');
      const stranger = await createSigningKey('ec-unknown', 'ES256');
      expectProblem(await get(await signWith(stranger)), 401, 'INVALID_TOKEN');
    });

    it('picks up a rotated key on an unknown kid once the 30 s cooldown is over', async () => {
      const rotated = await createSigningKey('ec-2', 'ES256');
      jwks.keys = [...jwks.keys, rotated];
      const token = await signWith(rotated);
      const fetchesBefore = jwks.fetches;
      // Within the cooldown the set is not fetched again, however many unknown kids arrive.
      expectProblem(await get(token), 401, 'INVALID_TOKEN');
      const later = Date.now() + 31_000;
      const clock = jest.spyOn(Date, 'now').mockImplementation(() => later);
      try {
        await get(token).expect(200);
      } finally {
        clock.mockRestore();
      }
      expect(jwks.fetches).toBe(fetchesBefore + 1);
    });

    it("still requires the path's user to be the subject", async () => {
      expectProblem(
        await request(testApp.app.getHttpServer())
          .get('/api/bob/tasks')
          .set(bearer(await signWith(rsa))),
        403,
        'FORBIDDEN',
      );
    });
  });

  // docs/auth.md: the front end signs in with Better Auth, whose jwt() plugin publishes an Ed25519
  // key set at /api/auth/jwks and issues EdDSA tokens with iss and aud set to its base URL.
  describe('with a Better Auth jwt() plugin as the identity provider', () => {
    const betterAuthUrl = 'http://localhost:5173';
    let jwks: JwksServer;
    let testApp: TestApp;
    let ed25519: SigningKey;
    const get = (token: string) =>
      request(testApp.app.getHttpServer()).get(tasks).set(bearer(token));
    /** A token as the plugin signs it: the user's fields as claims, `sub` the user's id, 15 min. */
    const betterAuthToken = (claims: { iss?: string; aud?: string } = {}) =>
      new SignJWT({
        id: 'alice',
        name: 'Alice',
        email: 'alice@example.com',
        emailVerified: true,
        iss: betterAuthUrl,
        aud: betterAuthUrl,
        ...claims,
      })
        .setProtectedHeader({ alg: 'EdDSA', kid: ed25519.kid })
        .setIssuedAt()
        .setSubject('alice')
        .setExpirationTime('15m')
        .sign(ed25519.privateKey);

    beforeAll(async () => {
      const generated = await createSigningKey('c5c7995d-0037-4553-8aee-b5b620b89b23', 'EdDSA');
      // The plugin's key set names neither `alg` nor `use`: only kty, crv, x and kid.
      const { kty, crv, x } = generated.publicJwk;
      ed25519 = { ...generated, publicJwk: { kty, crv, x, kid: generated.kid } };
      jwks = await JwksServer.start([ed25519]);
      testApp = await startTestApp(
        {
          AUTH_JWT_SECRET: undefined,
          AUTH_JWKS_URL: jwks.url,
          AUTH_JWT_ISSUER: betterAuthUrl,
          AUTH_JWT_AUDIENCE: betterAuthUrl,
        },
        database,
      );
    });
    afterAll(async () => {
      await testApp.close();
      await jwks.close();
    });

    it('accepts an EdDSA token with the configured issuer and audience', async () => {
      expect(ed25519.publicJwk).toEqual({
        kty: 'OKP',
        crv: 'Ed25519',
        x: expect.any(String),
        kid: ed25519.kid,
      });
      await get(await betterAuthToken()).expect(200);
    });

    it('refuses a token of another issuer or audience', async () => {
      expectProblem(
        await get(await betterAuthToken({ iss: 'http://localhost:6000' })),
        401,
        'INVALID_TOKEN',
      );
      expectProblem(
        await get(await betterAuthToken({ aud: 'http://localhost:6000' })),
        401,
        'INVALID_TOKEN',
      );
    });

    it.each([
      ['the opaque session token', 'Xk3qYVh0pZr9LmT2bWc8NdFs5JgA1uEo'],
      [
        'the signed session cookie value',
        'Xk3qYVh0pZr9LmT2bWc8NdFs5JgA1uEo.q0dC2vYxJ7mP4sR9tUwZ1aB3cE5fG7hI9kL2nO4pQ6s%3D',
      ],
    ])('refuses %s of Better Auth: it is not a JWT', async (_name, sessionToken) => {
      const response = await get(sessionToken);
      expectProblem(response, 401, 'INVALID_TOKEN');
      expect(response.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    });
  });

  it('answers 503 (not 401) while the key set cannot be fetched', async () => {
    const jwks = await JwksServer.start([]);
    const url = jwks.url;
    await jwks.close();
    const testApp = await startTestApp(
      { AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: url },
      database,
    );
    try {
      const key = await createSigningKey('k', 'ES256');
      const token = await new SignJWT({ sub: 'alice', exp: now() + 600 })
        .setProtectedHeader({ alg: 'ES256', kid: 'k' })
        .sign(key.privateKey);
      const response = await request(testApp.app.getHttpServer()).get(tasks).set(bearer(token));
      expectProblem(response, 503, 'SERVICE_UNAVAILABLE');
      expect(response.headers['retry-after']).toBe('5');
    } finally {
      await testApp.close();
    }
  });
});
