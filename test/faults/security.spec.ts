import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { exportSPKI, SignJWT } from 'jose';
import { createSigningKey, JwksServer, type SigningKey } from '../support/jwks-server';
import { startTestApp, TEST_JWT_SECRET, TestApp } from '../support/test-app';
import { createTestDatabase, TestDatabase } from '../support/test-database';
import { reportFigures } from './fault-support';
import { authHeader, signToken } from '../support/tokens';
import { loadSlack } from '../support/machine-load';

const TASKS = '/api/alice/tasks';
const b64 = (value: object | string): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;
const injector = (testApp: () => TestApp) => (options: InjectOptions) =>
  testApp().app.getHttpAdapter().getInstance().inject(options);

function expectRefusedToken(response: LightMyRequestResponse, label: string): void {
  expect({ label, status: response.statusCode, code: response.json().code }).toEqual({
    label,
    status: 401,
    code: 'INVALID_TOKEN',
  });
  expect(response.headers['www-authenticate']).toMatch(
    /^Bearer realm="tasks", error="invalid_token"/,
  );
}

// specification §3: the accepted algorithms and keys are fixed by configuration, never by the token.
describe('hostile tokens', () => {
  let database: TestDatabase;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    reportFigures('tokens', figures);
    await database.drop();
  });

  describe('against a JWKS (RS256/ES256 keys of an identity provider)', () => {
    let jwks: JwksServer;
    let attacker: JwksServer;
    let testApp: TestApp;
    let rsa: SigningKey;
    let ec: SigningKey;
    let stranger: SigningKey;
    const inject = injector(() => testApp);

    beforeAll(async () => {
      rsa = await createSigningKey('rsa-1', 'RS256');
      ec = await createSigningKey('ec-1', 'ES256');
      stranger = await createSigningKey('rsa-1', 'RS256');
      jwks = await JwksServer.start([rsa, ec]);
      attacker = await JwksServer.start([stranger]);
      testApp = await startTestApp(
        {
          AUTH_JWT_SECRET: undefined,
          AUTH_JWKS_URL: jwks.url,
          AUTH_JWT_ISSUER: 'https://idp.example',
          AUTH_JWT_AUDIENCE: 'tasks-api',
        },
        database,
      );
    });
    afterAll(async () => {
      await testApp.close();
      await jwks.close();
      await attacker.close();
    });

    const claims = { sub: 'alice', iss: 'https://idp.example', aud: 'tasks-api' };
    const sign = (key: SigningKey, header: Record<string, unknown>, payload: object = claims) =>
      new SignJWT({ ...payload })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
        .setExpirationTime('10m')
        .sign(key.privateKey);
    const hmac = async (secret: string | Uint8Array, header: object = {}) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid, ...header })
        .setExpirationTime('10m')
        .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

    it('accepts a token signed with a published key (the baseline the attacks below vary)', async () => {
      const response = await inject({
        method: 'GET',
        url: TASKS,
        headers: { authorization: `Bearer ${await sign(rsa, {})}` },
      });
      expect(response.statusCode).toBe(200);
    });

    it('refuses algorithm confusion, kid tricks, foreign keys, issuers and audiences: all 401', async () => {
      const pem = await exportSPKI(
        (await import('node:crypto')).createPublicKey({
          key: rsa.publicJwk as import('node:crypto').JsonWebKey,
          format: 'jwk',
        }),
      );
      const attacks: [string, string][] = [
        ['HS256 keyed with the public key as PEM', await hmac(pem)],
        ['HS256 keyed with the public JWK as JSON', await hmac(JSON.stringify(rsa.publicJwk))],
        [
          'HS256 keyed with the modulus',
          await hmac(Buffer.from(String(rsa.publicJwk.n), 'base64url')),
        ],
        ['HS256 keyed with an empty secret', await hmac(new Uint8Array(32))],
        [
          'alg none',
          `${b64({ alg: 'none', kid: rsa.kid })}.${b64({ ...claims, exp: inAnHour() })}.`,
        ],
        ['alg None', `${b64({ alg: 'None' })}.${b64({ ...claims, exp: inAnHour() })}.`],
        ['the RSA kid with ES256', await sign(ec, { kid: rsa.kid })],
        ['a kid nobody published', await sign(stranger, { kid: 'rsa-2' })],
        ['the published kid on a stranger key', await sign(stranger, {})],
        ['a path-traversal kid', await sign(stranger, { kid: '../../../../dev/null' })],
        ['an SQL kid', await sign(stranger, { kid: "x' UNION SELECT 'secret" })],
        ['a 4 KiB kid', await sign(stranger, { kid: 'k'.repeat(4096) })],
        ['no kid', await sign(stranger, { kid: undefined })],
        ['an embedded jwk header', await sign(stranger, { jwk: stranger.publicJwk })],
        ['a jku header naming another key set', await sign(stranger, { jku: attacker.url })],
        ['an x5u header', await sign(stranger, { x5u: attacker.url })],
        ['an unknown crit extension', await signRaw(rsa, { crit: ['exp-ext'], 'exp-ext': 1 })],
        ['another issuer', await sign(rsa, {}, { ...claims, iss: 'https://evil.example' })],
        ['another audience', await sign(rsa, {}, { ...claims, aud: 'other-api' })],
        ['no audience', await sign(rsa, {}, { sub: 'alice', iss: claims.iss })],
        ['an audience list without ours', await sign(rsa, {}, { ...claims, aud: ['a', 'b'] })],
        ['a payload swapped under a valid signature', await swapPayload(await sign(rsa, {}))],
        [
          'a signature from another token',
          await swapSignature(await sign(rsa, {}), await sign(ec, {})),
        ],
        [
          'a 12 KiB payload, stranger key',
          await sign(stranger, {}, { ...claims, pad: 'p'.repeat(12_288) }),
        ],
        ['a 1 MiB token', `${b64({ alg: 'RS256', kid: rsa.kid })}.${'A'.repeat(1 << 20)}.sig`],
        ['a token of 5 segments', `${await sign(rsa, {})}.x.y`],
        ['non-base64url segments', '%%%.$$$.***'],
      ];
      for (const [label, token] of attacks) {
        const response = await inject({
          method: 'GET',
          url: TASKS,
          headers: { authorization: `Bearer ${token}` },
        });
        expectRefusedToken(response, label);
      }
      // The token never chooses where keys come from.
      expect(attacker.fetches).toBe(0);
      figures.jwksAttacks = attacks.length;
    });
  });

  describe('against an HS256 shared secret', () => {
    let testApp: TestApp;
    const inject = injector(() => testApp);

    beforeAll(async () => {
      testApp = await startTestApp({}, database);
    });
    afterAll(() => testApp.close());

    it('refuses tokens the secret did not sign, and oversized ones: all 401', async () => {
      const rsa = await createSigningKey('rsa', 'RS256');
      const secret = new TextEncoder().encode(TEST_JWT_SECRET);
      const valid = await signToken('alice');
      const [header, payload] = valid.split('.');
      const attacks: [string, string][] = [
        [
          'RS256 where HS256 is configured',
          await new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'RS256' })
            .setExpirationTime('1h')
            .sign(rsa.privateKey),
        ],
        ['alg none', `${b64({ alg: 'none' })}.${payload}.`],
        [
          'alg none with the original signature',
          `${b64({ alg: 'none' })}.${payload}.${valid.split('.')[2]}`,
        ],
        [
          'HS384 with the same secret',
          await new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'HS384' })
            .setExpirationTime('1h')
            .sign(new Uint8Array([...secret, ...secret])),
        ],
        ['a stripped signature', `${header}.${payload}.`],
        ['a payload swapped under the signature', await swapPayload(valid)],
        [
          'an 8 KiB token',
          await new SignJWT({ sub: 'alice', pad: 'p'.repeat(8192) })
            .setProtectedHeader({ alg: 'HS256' })
            .setExpirationTime('1h')
            .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters')),
        ],
        ['a 1 MiB token', `${header}.${'A'.repeat(1 << 20)}.${'B'.repeat(43)}`],
      ];
      for (const [label, token] of attacks) {
        const started = performance.now();
        const response = await inject({
          method: 'GET',
          url: TASKS,
          headers: { authorization: `Bearer ${token}` },
        });
        expectRefusedToken(response, label);
        expect(performance.now() - started).toBeLessThan(loadSlack(1000));
      }
      figures.secretAttacks = attacks.length;
    });

    it('answers 431, not a 5xx, for a token beyond the HTTP header limit on a real socket', async () => {
      await testApp.app.listen(0, '127.0.0.1');
      const url = await testApp.app.getUrl();
      const big = await fetch(`${url}${TASKS}`, {
        headers: { authorization: `Bearer ${'A'.repeat(20_000)}` },
      });
      expect(big.status).toBe(431);
      const large = await fetch(`${url}${TASKS}`, {
        headers: { authorization: `Bearer ${'A'.repeat(12_000)}` },
      });
      expect(large.status).toBe(401);
      expect(((await large.json()) as { code: string }).code).toBe('INVALID_TOKEN');
    });
  });
});

/** Signs with the raw key, for headers jose itself refuses to produce (an unknown `crit`). */
async function signRaw(key: SigningKey, header: object): Promise<string> {
  const input = `${b64({ alg: key.alg, kid: key.kid, ...header })}.${b64({
    sub: 'alice',
    iss: 'https://idp.example',
    aud: 'tasks-api',
    exp: inAnHour(),
  })}`;
  const signature = await crypto.subtle.sign(
    'RSASSA-PKCS1-v1_5',
    key.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/** The same header and signature over another subject's claims. */
async function swapPayload(token: string): Promise<string> {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as object;
  return `${header}.${b64({ ...claims, sub: 'alice', admin: true })}.${signature}`;
}

function swapSignature(token: string, donor: string): string {
  return `${token.split('.').slice(0, 2).join('.')}.${donor.split('.')[2]}`;
}

interface WireTask {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
}

// FR-011/FR-012 under load: while alice writes, bob hits every route with alice's ids and
// paths; nothing of alice's ever appears in a response to bob, and nothing of hers changes.
describe('ownership under concurrency', () => {
  let testApp: TestApp;
  const inject = injector(() => testApp);

  beforeAll(async () => {
    testApp = await startTestApp({ DATABASE_POOL_MAX: '10' });
  });
  afterAll(() => testApp.close());

  it('bob never observes or changes anything of alice, on any route', async () => {
    const alice = await authHeader('alice');
    const bob = await authHeader('bob');
    const secret = 'ALICE-PRIVATE';
    const aliceIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await inject({
        method: 'POST',
        url: '/api/alice/tasks',
        headers: alice,
        payload: { title: `${secret} ${i}`, description: `${secret} notes ${i}` },
      });
      aliceIds.push((response.json() as WireTask).id);
    }
    const bobsOwn = (
      await inject({
        method: 'POST',
        url: '/api/bob/tasks',
        headers: bob,
        payload: { title: 'bob' },
      })
    ).json() as WireTask;

    const aliceWork = Array.from({ length: 200 }, (_, i) => {
      const id = aliceIds[i % aliceIds.length];
      return [
        () => inject({ method: 'PATCH', url: `/api/alice/tasks/${id}/complete`, headers: alice }),
        () =>
          inject({
            method: 'PUT',
            url: `/api/alice/tasks/${id}`,
            headers: alice,
            payload: { description: `${secret} edit ${i}` },
          }),
        () =>
          inject({
            method: 'POST',
            url: '/api/alice/tasks',
            headers: alice,
            payload: { title: `${secret} new ${i}` },
          }),
        () => inject({ method: 'GET', url: '/api/alice/tasks?limit=5', headers: alice }),
      ][i % 4]();
    });
    const bobProbes: (() => Promise<LightMyRequestResponse>)[] = [];
    for (const id of aliceIds) {
      bobProbes.push(
        () => inject({ method: 'GET', url: `/api/bob/tasks/${id}`, headers: bob }),
        () =>
          inject({
            method: 'PUT',
            url: `/api/bob/tasks/${id}`,
            headers: bob,
            payload: { title: 'taken by bob' },
          }),
        () =>
          inject({
            method: 'PUT',
            url: `/api/bob/tasks/${id}`,
            headers: { ...bob, 'if-match': '"1"' },
            payload: { completed: true },
          }),
        () => inject({ method: 'PATCH', url: `/api/bob/tasks/${id}/complete`, headers: bob }),
        () => inject({ method: 'DELETE', url: `/api/bob/tasks/${id}`, headers: bob }),
        () => inject({ method: 'GET', url: `/api/alice/tasks/${id}`, headers: bob }),
        () => inject({ method: 'DELETE', url: `/api/alice/tasks/${id}`, headers: bob }),
        () => inject({ method: 'GET', url: '/api/bob/tasks?limit=500', headers: bob }),
        () => inject({ method: 'GET', url: '/api/alice/tasks', headers: bob }),
      );
    }
    const [, bobResponses] = await Promise.all([
      Promise.all(aliceWork),
      Promise.all(bobProbes.map((probe) => probe())),
    ]);

    const leaks = bobResponses.filter(
      (response) =>
        response.body.includes(secret) ||
        aliceIds.some((id) => response.body.includes(id) && response.statusCode < 400),
    );
    expect(leaks.map((response) => response.body.slice(0, 200))).toEqual([]);
    const statuses = new Set(bobResponses.map((response) => response.statusCode));
    // 404 for alice's ids under bob's path, 403 for alice's path, 200 for bob's own list.
    expect([...statuses].sort()).toEqual([200, 403, 404]);
    for (const response of bobResponses.filter((r) => r.statusCode === 200)) {
      const tasks = response.json() as WireTask[];
      expect(tasks.map((task) => task.id)).toEqual([bobsOwn.id]);
    }

    // None of alice's tasks was touched by bob: all still there, none with bob's writes.
    const list = await inject({ method: 'GET', url: '/api/alice/tasks?limit=500', headers: alice });
    const aliceTasks = list.json() as WireTask[];
    expect(aliceTasks).toHaveLength(20 + 50);
    expect(aliceTasks.filter((task) => !task.title.startsWith(secret))).toEqual([]);
    expect(aliceIds.every((id) => aliceTasks.some((task) => task.id === id))).toBe(true);
    reportFigures('ownership', {
      aliceRequests: aliceWork.length,
      bobRequests: bobResponses.length,
      leaks: leaks.length,
    });
  });
});

// Optional per-caller rate limiting (RATE_LIMIT_PER_MINUTE), off by default.
describe('rate limiting', () => {
  it('is off by default: no limit headers and no 429', async () => {
    const testApp = await startTestApp();
    try {
      const alice = await authHeader('alice');
      const inject = injector(() => testApp);
      const responses = await Promise.all(
        Array.from({ length: 120 }, () => inject({ method: 'GET', url: TASKS, headers: alice })),
      );
      expect(responses.filter((response) => response.statusCode !== 200)).toEqual([]);
      expect(responses[0].headers['x-ratelimit-limit']).toBeUndefined();
    } finally {
      await testApp.close();
    }
  });

  it('answers 429 TOO_MANY_REQUESTS with Retry-After past the limit, per caller, else per address', async () => {
    const limit = 5;
    const testApp = await startTestApp({ RATE_LIMIT_PER_MINUTE: String(limit) });
    try {
      const inject = injector(() => testApp);
      const alice = await authHeader('alice');
      const bob = await authHeader('bob');
      const get = (headers: Record<string, string>, remoteAddress = '10.0.0.1', url = TASKS) =>
        inject({ method: 'GET', url, headers, remoteAddress });

      const first = await Promise.all(Array.from({ length: limit }, () => get(alice)));
      expect(first.map((response) => response.statusCode)).toEqual(Array(limit).fill(200));
      expect(first[0].headers['x-ratelimit-limit']).toBe(String(limit));

      // Alice's allowance is hers, whichever route and whichever address she comes from.
      const over = await inject({
        method: 'POST',
        url: TASKS,
        headers: alice,
        payload: { title: 'one too many' },
        remoteAddress: '10.9.9.9',
      });
      expect(over.statusCode).toBe(429);
      expect(over.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(over.json()).toMatchObject({ code: 'TOO_MANY_REQUESTS', status: 429 });
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60);

      // Bob, from the same address, has an allowance of his own.
      expect((await get(bob, '10.0.0.1', '/api/bob/tasks')).statusCode).toBe(200);
      // Unauthenticated (or forged) requests count against their address.
      const forged = `Bearer ${await new SignJWT({ sub: 'bob' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('x'.repeat(40)))}`;
      const anonymous = [];
      for (let i = 0; i < limit + 1; i++) {
        anonymous.push((await get({ authorization: forged }, '10.0.0.7')).statusCode);
      }
      expect(anonymous).toEqual([...Array(limit).fill(401), 429]);
      // A forged token spent its sender's address allowance, not bob's.
      expect((await get(bob, '10.0.0.7', '/api/bob/tasks')).statusCode).toBe(200);
      // Probes are never limited.
      for (let i = 0; i < limit * 2; i++) {
        expect((await get({}, '10.0.0.7', '/health/live')).statusCode).toBe(200);
      }
    } finally {
      await testApp.close();
    }
  });
});
