import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import request from 'supertest';
import { MAX_LISTED_ERRORS } from '../../src/http/problem-details.filter';
import { expectProblem } from '../support/problem';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { bearer, signToken } from '../support/tokens';

const ORIGIN = 'https://app.example';

/** Sends `head` (and nothing more) on a new connection; resolves with all it receives until the
 * server closes it, or after `waitMs`. */
function rawExchange(port: number, head: string, waitMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, waitMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', reject);
    socket.write(head);
  });
}

/** An HS256 token signed with the test secret, with the claims as given. */
function hs256(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  const signature = createHmac('sha256', TEST_JWT_SECRET).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

// The loose edges of the HTTP layer, each as a client (or an attacker) meets it.
describe('the edges of the HTTP layer', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let port: number;
  let auth: { Authorization: string };
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await startTestApp({ CORS_ORIGINS: ORIGIN }, database);
    await testApp.app.listen(0, '127.0.0.1');
    port = (server().address() as { port: number }).port;
    auth = bearer(await signToken('edge'));
  });

  afterAll(async () => {
    await testApp.close();
    await database.drop();
  });

  it('refuses a GET that announces a body before reading it, without a token', async () => {
    const answer = await rawExchange(
      port,
      'GET /health/live HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 20000000\r\n\r\nsome',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"code":"BAD_REQUEST"');
  });

  it('lists at most a few field errors, however many there are', async () => {
    // 6,500 short unknown keys: 52 KB, under the body limit.
    const body = Object.fromEntries(
      Array.from({ length: 6_500 }, (_, n) => [`_${n.toString(36)}`, 0]),
    );
    const response = await request(server())
      .post('/api/edge/tasks')
      .set(auth)
      .send({ title: 'x', ...body });
    expectProblem(response, 400, 'VALIDATION_ERROR');
    expect(response.body.errors).toHaveLength(MAX_LISTED_ERRORS);
    expect(response.body.detail).toMatch(/and 6480 more problems not listed\.$/);
    expect(Buffer.byteLength(response.text)).toBeLessThan(8 * 1024);

    const query = Array.from({ length: 1_700 }, (_, n) => `p${n}=1`).join('&');
    const queried = await request(server()).get(`/api/edge/tasks?${query}`).set(auth);
    expectProblem(queried, 400, 'VALIDATION_ERROR');
    expect(Buffer.byteLength(queried.text)).toBeLessThan(8 * 1024);

    const longName = await request(server())
      .post('/api/edge/tasks')
      .set(auth)
      .send({ title: 'x', ['n'.repeat(60_000)]: 1 });
    expectProblem(longName, 400, 'VALIDATION_ERROR');
    expect(Buffer.byteLength(longName.text)).toBeLessThan(4 * 1024);
  });

  it('lets browsers send Idempotency-Key and Last-Event-ID', async () => {
    const response = await request(server())
      .options('/api/edge/tasks')
      .set('Origin', ORIGIN)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, idempotency-key, last-event-id');
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-headers'].toLowerCase().split(/, */)).toEqual(
      expect.arrayContaining(['idempotency-key', 'last-event-id']),
    );
  });

  it('answers a trailing slash 404, not a 405 that allows the method it refused', async () => {
    const response = await request(server()).get('/api/edge/tasks/').set(auth);
    expectProblem(response, 404, 'NOT_FOUND');
    expect(response.headers['allow']).toBeUndefined();
  });

  it('sends the security headers and the cache rule on 414, malformed-URL 400 and 431 answers, and does not echo the path', async () => {
    const longId = 'x'.repeat(2_000);
    const tooLong = await request(server()).get(`/api/${longId}/tasks`).set(auth);
    expect(tooLong.status).toBe(414);
    const malformed = await request(server()).get('/api/%E0%A4%A/tasks').set(auth);
    expect(malformed.status).toBe(400);
    for (const response of [tooLong, malformed]) {
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'cache-control': 'private, no-cache',
      });
      expect(response.headers['content-security-policy']).toBeDefined();
      expect(response.headers['strict-transport-security']).toBeDefined();
    }
    expect(tooLong.text).not.toContain(longId);
    expect(malformed.text).not.toContain('%E0%A4%A');

    const oversized = await rawExchange(
      port,
      `GET /api/edge/tasks HTTP/1.1\r\nHost: test\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    expect(oversized).toMatch(/^HTTP\/1\.1 431 /);
    expect(oversized).toMatch(/\r\ncache-control: private, no-cache\r\n/i);
    expect(oversized).toMatch(/\r\ncontent-security-policy: /i);
  });

  it('builds Link from the encoded path, whatever characters the user id has', async () => {
    const owner = 'a>,<b';
    const ownerAuth = bearer(await signToken(owner));
    for (const title of ['one', 'two']) {
      await request(server())
        .post(`/api/${encodeURIComponent(owner)}/tasks`)
        .set(ownerAuth)
        .send({ title })
        .expect(201);
    }
    const page = await request(server())
      .get(`/api/${owner}/tasks?limit=1`)
      .set(ownerAuth)
      .expect(200);
    const match = /^<([^<>]+)>; rel="next"$/.exec(page.headers['link'] as string);
    expect(match?.[1]).toMatch(/^\/api\/a%3E%2C%3Cb\/tasks\?limit=1&cursor=/);
    const next = await request(server())
      .get(match?.[1] as string)
      .set(ownerAuth)
      .expect(200);
    expect(next.body).toHaveLength(1);
  });

  it('refuses two Idempotency-Key headers instead of joining them into one key', async () => {
    const answer = await rawExchange(
      port,
      'POST /api/edge/tasks HTTP/1.1\r\nHost: test\r\n' +
        `Authorization: ${auth.Authorization}\r\nContent-Type: application/json\r\n` +
        'Idempotency-Key: first\r\nIdempotency-Key: second\r\nContent-Length: 15\r\n' +
        'Connection: close\r\n\r\n{"title":"one"}',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"field":"Idempotency-Key"');
  });

  it('refuses an HS256 token whose iat is not a number', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    for (const iat of ['yesterday', null, [1]]) {
      const response = await request(server())
        .get('/api/edge/tasks')
        .set(bearer(hs256({ sub: 'edge', exp, iat })));
      expectProblem(response, 401, 'INVALID_TOKEN');
    }
    await request(server())
      .get('/api/edge/tasks')
      .set(bearer(hs256({ sub: 'edge', exp, iat: exp - 600 })))
      .expect(200);
  });

  it('replays a create with its ETag only while the task is still at that version', async () => {
    const create = () =>
      request(server())
        .post('/api/edge/tasks')
        .set(auth)
        .set('Idempotency-Key', 'replay-etag')
        .send({ title: 'first' })
        .expect(201);
    const first = await create();
    expect(first.headers['etag']).toBe('"1"');
    const unchanged = await create();
    expect(unchanged.headers['etag']).toBe('"1"');

    await request(server())
      .put(`/api/edge/tasks/${first.body.id}`)
      .set(auth)
      .send({ title: 'edited' })
      .expect(200);
    const replay = await create();
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['location']).toBe(first.headers['location']);
    expect(replay.headers['etag']).toBeUndefined();
  });

  it('documents 405 and 408 on every operation', async () => {
    const document = (await request(server()).get('/docs/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item)) {
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['405', '408']));
      }
    }
  });
});

describe('rate limiting', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({ RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => testApp.close());

  it('sends X-RateLimit-* on the 429 too', async () => {
    const auth = bearer(await signToken('limited'));
    const server = testApp.app.getHttpServer();
    for (let n = 0; n < 2; n++)
      await request(server).get('/api/limited/tasks').set(auth).expect(200);
    const refused = await request(server).get('/api/limited/tasks').set(auth);
    expectProblem(refused, 429, 'TOO_MANY_REQUESTS');
    expect(refused.headers).toMatchObject({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '0',
    });
    expect(Number(refused.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });
});
