import request from 'supertest';
import { DataLayerError } from '../src/database/data-layer.errors';
import { TasksRepository } from '../src/tasks/tasks.repository';
import { expectProblem, fieldErrors } from './support/problem';
import { TcpProxy } from './support/tcp-proxy';
import { startTestApp, TestApp } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-database';
import { bearer, signToken } from './support/tokens';
import { loadSlack } from './support/machine-load';

// specification §4: every row of the error table, as problem details.
describe('error responses', () => {
  let testApp: TestApp;
  let auth: { Authorization: string };
  let taskPath: string;
  const server = () => testApp.app.getHttpServer();
  const tasks = '/api/alice/tasks';

  beforeAll(async () => {
    testApp = await startTestApp();
    auth = bearer(await signToken('alice'));
    const created = await request(server()).post(tasks).set(auth).send({ title: 'x' }).expect(201);
    taskPath = `${tasks}/${created.body.id}`;
  });
  afterAll(() => testApp.close());
  afterEach(() => jest.restoreAllMocks());

  it('400 VALIDATION_ERROR: bad body or query, with a message per field', async () => {
    const response = await request(server()).post(tasks).set(auth).send({ title: '' });
    expectProblem(response, 400, 'VALIDATION_ERROR');
    expect(fieldErrors(response)).toEqual(['title: title must not be blank']);
    expect(response.body.detail).toBe('The request is invalid: title must not be blank.');
    expect(response.body.instance).toBe(tasks);
  });

  it('400 INVALID_JSON: a body that does not parse', async () => {
    for (const body of ['{"title": ', '{title: "x"}', '{"__proto__": {"admin": true}}']) {
      const response = await request(server())
        .post(tasks)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(body);
      expectProblem(response, 400, 'INVALID_JSON');
    }
  });

  it('400 INVALID_UUID: an :id that is not a UUID', async () => {
    expectProblem(await request(server()).get(`${tasks}/123`).set(auth), 400, 'INVALID_UUID');
  });

  it('401 MISSING_TOKEN / INVALID_TOKEN / TOKEN_EXPIRED, with WWW-Authenticate: Bearer', async () => {
    const missing = await request(server()).get(tasks);
    expectProblem(missing, 401, 'MISSING_TOKEN');
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="tasks"');

    const invalid = await request(server()).get(tasks).set('Authorization', 'Bearer abc.def.ghi');
    expectProblem(invalid, 401, 'INVALID_TOKEN');
    expect(invalid.headers['www-authenticate']).toMatch(
      /^Bearer realm="tasks", error="invalid_token"/,
    );

    const expired = await request(server())
      .get(tasks)
      .set(bearer(await signToken('alice', { expiresIn: -120 })));
    expectProblem(expired, 401, 'TOKEN_EXPIRED');
    expect(expired.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it("403 FORBIDDEN: the path's user is not the token's subject", async () => {
    expectProblem(await request(server()).get('/api/bob/tasks').set(auth), 403, 'FORBIDDEN');
  });

  it('404 TASK_NOT_FOUND and 404 NOT_FOUND (unknown route)', async () => {
    expectProblem(
      await request(server()).get(`${tasks}/5f0c6a8e-1d2b-4c3d-8e9f-0a1b2c3d4e5f`).set(auth),
      404,
      'TASK_NOT_FOUND',
    );
    for (const call of [
      request(server()).get('/nowhere'),
      request(server()).post('/api/alice/tasks/extra/path'),
      request(server()).get('/api/alice'),
    ]) {
      const response = await call;
      expectProblem(response, 404, 'NOT_FOUND');
    }
  });

  it('400/414 BAD_REQUEST: what Fastify refuses while routing, with the request id too', async () => {
    const malformed = await request(server()).get('/api/%E0%A4%A/tasks').set(auth);
    expectProblem(malformed, 400, 'BAD_REQUEST');
    expect(malformed.body.detail).toMatch(/percent-encoding/);
    expect(malformed.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const tooLong = await request(server())
      .get(`/api/${'a'.repeat(1100)}/tasks`)
      .set(auth);
    expectProblem(tooLong, 414, 'BAD_REQUEST');
    expect(tooLong.body.detail).toBe('A segment of the path is too long.');
  });

  it('412 PRECONDITION_FAILED: If-Match names another version', async () => {
    const response = await request(server())
      .put(taskPath)
      .set(auth)
      .set('If-Match', '"42"')
      .send({ title: 'y' });
    expectProblem(response, 412, 'PRECONDITION_FAILED');
    expect(response.body.detail).toMatch(/version 1, not 42/);
  });

  it('413 PAYLOAD_TOO_LARGE: a body over 64 KiB', async () => {
    const response = await request(server())
      .post(tasks)
      .set(auth)
      .send({ title: 'big', description: 'x'.repeat(64 * 1024) });
    expectProblem(response, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('415 UNSUPPORTED_MEDIA_TYPE: a body that is not application/json', async () => {
    for (const call of [
      request(server()).post(tasks).set('Content-Type', 'text/plain').send('title=x'),
      request(server()).post(tasks).type('form').send({ title: 'x' }),
      request(server()).put(taskPath).set('Content-Type', 'application/xml').send('<t/>'),
      request(server()).delete(taskPath).set('Content-Type', 'text/plain').send('why'),
    ]) {
      expectProblem(await call.set(auth), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('bodiless PATCH and DELETE work with any Content-Type or none', async () => {
    for (const contentType of [undefined, 'application/json', 'text/plain']) {
      const call = request(server()).patch(`${taskPath}/complete`).set(auth);
      if (contentType) call.set('Content-Type', contentType);
      await call.expect(200);
    }
    const created = await request(server()).post(tasks).set(auth).send({ title: 'd' }).expect(201);
    await request(server())
      .delete(`${tasks}/${created.body.id}`)
      .set(auth)
      .set('Content-Type', 'application/json')
      .expect(204);
  });

  // How it is logged (once, at error, with its stack) is seen from outside in request-logs.spec.ts.
  it('500 INTERNAL_ERROR: nothing of the error in the response', async () => {
    // The repository is replaced (through @nestjs/testing) by one that fails as nothing real can.
    const failing = await startTestApp(
      {},
      {
        database: testApp.database,
        overrides: [
          [
            TasksRepository,
            {
              findOne: () => Promise.reject(new Error('boom: password=hunter2 at /srv/app.js:1:2')),
              // A data-layer error that is not an outage is a 500 as well, with no SQL state.
              list: () => Promise.reject(new DataLayerError('The database failed', '42P01')),
            },
          ],
        ],
      },
    );
    try {
      const response = await request(failing.app.getHttpServer()).get(taskPath).set(auth);
      expectProblem(response, 500, 'INTERNAL_ERROR');
      expect(response.text).not.toMatch(/boom|hunter2|srv/);

      const failed = await request(failing.app.getHttpServer()).get(tasks).set(auth);
      expectProblem(failed, 500, 'INTERNAL_ERROR');
      expect(failed.text).not.toMatch(/42P01/);
    } finally {
      await failing.close();
    }
  });

  it('responds with X-Request-Id on errors too, echoing a sane one', async () => {
    const response = await request(server()).get('/nowhere').set('X-Request-Id', 'trace-42');
    expect(response.headers['x-request-id']).toBe('trace-42');
    expect(response.body.request_id).toBe('trace-42');
  });
});

// specification §6: a database that goes away turns requests into fast 503s; it recovers by itself.
describe('error responses with the database unreachable', () => {
  // Short, so that the bounds below mean something; stretched by the machine's load, so that a
  // busy machine's slow connection set-up is not taken for an unreachable database.
  const connectTimeoutMs = loadSlack(500);
  const statementTimeoutMs = loadSlack(500);
  let database: TestDatabase;
  let proxy: TcpProxy;
  let testApp: TestApp;
  let auth: { Authorization: string };
  const server = () => testApp.app.getHttpServer();
  const tasks = '/api/alice/tasks';

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await TcpProxy.start(database.url);
    testApp = await startTestApp(
      {
        DATABASE_URL: proxy.url,
        DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
        DATABASE_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
      },
      database,
    );
    auth = bearer(await signToken('alice'));
  });
  afterAll(async () => {
    await proxy.open();
    await testApp.close();
    await proxy.close();
    await database.drop();
  });

  it('503 SERVICE_UNAVAILABLE with Retry-After when connections are refused, then recovers', async () => {
    await request(server()).post(tasks).set(auth).send({ title: 'before' }).expect(201);

    await proxy.close();
    const started = performance.now();
    const down = await request(server()).get(tasks).set(auth);
    expectProblem(down, 503, 'SERVICE_UNAVAILABLE');
    expect(down.headers['retry-after']).toBe('5');
    expect(performance.now() - started).toBeLessThan(connectTimeoutMs + loadSlack(1500));
    const write = await request(server()).post(tasks).set(auth).send({ title: 'during' });
    expectProblem(write, 503, 'SERVICE_UNAVAILABLE');

    await proxy.open();
    const back = await request(server()).get(tasks).set(auth).expect(200);
    expect(back.body.map((task: { title: string }) => task.title)).toEqual(['before']);
  });

  it('503 within the timeouts when the database stops answering (a network partition)', async () => {
    await request(server()).get(tasks).set(auth).expect(200);
    proxy.blackHole();
    const started = performance.now();
    const response = await request(server()).get(tasks).set(auth);
    expectProblem(response, 503, 'SERVICE_UNAVAILABLE');
    // query_timeout = statement timeout + connect timeout.
    expect(performance.now() - started).toBeLessThan(
      connectTimeoutMs + statementTimeoutMs + loadSlack(1500),
    );
    await proxy.close();
    await proxy.open();
    await request(server()).get(tasks).set(auth).expect(200);
  });
});
