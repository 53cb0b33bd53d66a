import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-database';
import { bearer, signToken } from './support/tokens';

const ALLOWED = 'https://app.example';
const tasks = '/api/alice/tasks';

const corsHeaders = (response: request.Response): string[] =>
  Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));

// specification §3: CORS for the origins of CORS_ORIGINS only.
describe('CORS', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await startTestApp({ CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` }, database);
  });
  afterAll(async () => {
    await testApp.close();
    await database.drop();
  });

  it('answers a preflight from a listed origin', async () => {
    const response = await request(server())
      .options(`${tasks}/0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21`)
      .set('Origin', 'http://localhost:5173')
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'authorization, content-type, if-match, x-request-id');
    expect(response.status).toBe(204);
    expect(response.headers).toMatchObject({
      'access-control-allow-origin': 'http://localhost:5173',
      'access-control-allow-credentials': 'true',
      'access-control-max-age': '7200',
    });
    expect(response.headers['access-control-allow-methods'].split(/, */)).toEqual(
      expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    );
    expect(response.headers['access-control-allow-headers'].toLowerCase().split(/, */)).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'if-match', 'x-request-id']),
    );
    expect(response.headers['vary']).toMatch(/Origin/);
  });

  it('echoes a listed origin and exposes Location, ETag, Link, X-Request-Id, Retry-After, WWW-Authenticate and the rate limit', async () => {
    const auth = bearer(await signToken('alice'));
    const response = await request(server())
      .post(tasks)
      .set(auth)
      .set('Origin', ALLOWED)
      .send({ title: 'from the browser' })
      .expect(201);
    expect(response.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(response.headers['access-control-expose-headers'].split(/, */)).toEqual([
      'Location',
      'ETag',
      'Link',
      'X-Request-Id',
      'Retry-After',
      'WWW-Authenticate',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ]);
  });

  it('puts the CORS headers on error responses too, so scripts can read the problem', async () => {
    const response = await request(server()).get(tasks).set('Origin', ALLOWED).expect(401);
    expect(response.headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  it('gives an origin not on the list no CORS headers at all', async () => {
    const preflight = await request(server())
      .options(tasks)
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'DELETE');
    expect(corsHeaders(preflight)).toEqual([]);
    // A clean answer (the path's methods), not "No route matches OPTIONS".
    expect(preflight.status).toBe(204);
    expect(preflight.headers.allow).toBe('DELETE, GET, HEAD, PATCH, POST, OPTIONS');
    const simple = await request(server())
      .get('/health/live')
      .set('Origin', 'https://evil.example');
    expect(corsHeaders(simple)).toEqual([]);
    const lookalike = await request(server())
      .get('/health/live')
      .set('Origin', `${ALLOWED}.evil.example`);
    expect(corsHeaders(lookalike)).toEqual([]);
  });

  it('answers no CORS at all when CORS_ORIGINS is empty', async () => {
    const closed = await startTestApp({ CORS_ORIGINS: undefined }, database);
    try {
      const preflight = await request(closed.app.getHttpServer())
        .options(tasks)
        .set('Origin', ALLOWED)
        .set('Access-Control-Request-Method', 'GET');
      expect(corsHeaders(preflight)).toEqual([]);
      // A plain OPTIONS then: the methods of the path, no CORS.
      expect(preflight.status).toBe(204);
      expect(preflight.headers.allow).toBe('DELETE, GET, HEAD, PATCH, POST, OPTIONS');
    } finally {
      await closed.close();
    }
  });
});
