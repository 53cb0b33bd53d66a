import request from 'supertest';
import { expectProblem } from '../support/problem';
import { startTestApp, TestApp } from '../support/test-app';
import { bearer, signToken } from '../support/tokens';

const USER = 'edge-user';
const tasks = `/api/${USER}/tasks`;

// specification §12: what third-party API tools probe at the edge of the service.
describe('HTTP edge', () => {
  let testApp: TestApp;
  let auth: { Authorization: string };
  const server = () => testApp.app.getHttpServer();
  const countTasks = async (): Promise<number> => {
    const list = await request(server()).get(tasks).set(auth).expect(200);
    return (list.body as unknown[]).length;
  };

  beforeAll(async () => {
    testApp = await startTestApp();
    auth = bearer(await signToken(USER));
  });
  afterAll(() => testApp.close());

  describe('bodies', () => {
    it('refuses JSON nested 1,500 levels deep with 400, on POST and PUT, and stores nothing', async () => {
      const deep = `{"title":"deep","description":${'['.repeat(1500)}${']'.repeat(1500)}}`;
      const created = await request(server())
        .post(tasks)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(deep);
      expectProblem(created, 400, 'VALIDATION_ERROR');
      expect(created.body.detail).toMatch(/levels deep/);
      const task = await request(server())
        .post(tasks)
        .set(auth)
        .send({ title: 'flat' })
        .expect(201);
      const updated = await request(server())
        .put(`${tasks}/${task.body.id}`)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(deep);
      expectProblem(updated, 400, 'VALIDATION_ERROR');
      expect(await countTasks()).toBe(1);
      await request(server()).delete(`${tasks}/${task.body.id}`).set(auth).expect(204);
    });

    it('accepts a body nested up to the limit as far as parsing goes', async () => {
      const nested = `{"title":"nested","description":${'['.repeat(31)}${']'.repeat(31)}}`;
      const response = await request(server())
        .post(tasks)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(nested);
      // Parsed, then refused by validation for being an array, not for its depth.
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(response.body.detail).not.toMatch(/levels deep/);
    });

    it('refuses a body that is not UTF-8 with 400 INVALID_JSON instead of storing U+FFFD', async () => {
      const post = (bytes: Buffer) =>
        testApp.app.inject({
          method: 'POST',
          url: tasks,
          headers: { ...auth, 'content-type': 'application/json' },
          payload: bytes,
        });
      const latin1 = Buffer.concat([Buffer.from('{"title":"caf'), Buffer.from([0xe9, 0x22, 0x7d])]);
      const refused = await post(latin1);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({
        code: 'INVALID_JSON',
        detail: expect.stringMatching(/UTF-8/),
      });
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await countTasks()).toBe(0);
      const valid = await post(Buffer.from('{"title":"café"}'));
      expect(valid.statusCode).toBe(201);
      expect(valid.json().title).toBe('café');
      await request(server()).delete(`${tasks}/${valid.json().id}`).set(auth).expect(204);
    });
  });

  describe('methods', () => {
    it('answers a known path with a method it does not serve with 405 and Allow', async () => {
      const response = await request(server()).put(tasks).set(auth).send({ title: 'x' });
      expectProblem(response, 405, 'METHOD_NOT_ALLOWED');
      expect(response.headers.allow).toBe('DELETE, GET, HEAD, PATCH, POST, OPTIONS');
      const item = await request(server()).post(`${tasks}/0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21`);
      expectProblem(item, 405, 'METHOD_NOT_ALLOWED');
      expect(item.headers.allow).toBe('DELETE, GET, HEAD, PUT, OPTIONS');
      const health = await request(server()).delete('/health/live');
      expect(health.headers.allow).toBe('GET, HEAD, OPTIONS');
    });

    it('answers OPTIONS on a known path with 204 and Allow', async () => {
      const response = await request(server()).options(`${tasks}/any/complete`).expect(204);
      expect(response.headers.allow).toBe('PATCH, OPTIONS');
      expect(response.text).toBe('');
    });

    it('keeps 404 NOT_FOUND for a path no route has, whatever the method', async () => {
      for (const method of ['get', 'post', 'options'] as const) {
        const response = await request(server())[method]('/api/nothing/here/at/all');
        expectProblem(response, 404, 'NOT_FOUND');
        expect(response.headers.allow).toBeUndefined();
      }
    });
  });

  describe('headers', () => {
    const securityHeaders = {
      'x-content-type-options': 'nosniff',
      'content-security-policy': expect.stringContaining("default-src 'self'"),
      'strict-transport-security': expect.stringMatching(/max-age=\d+/),
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'SAMEORIGIN',
    };

    it('puts the security headers on every response: API, errors, health, docs, 404', async () => {
      const responses = [
        await request(server()).get(tasks).set(auth).expect(200),
        await request(server()).get(tasks).expect(401),
        await request(server()).get('/health/live').expect(200),
        await request(server()).get('/docs').expect(200),
        await request(server()).get('/docs/openapi.json').expect(200),
        await request(server()).get('/nowhere').expect(404),
        await request(server()).put(tasks).expect(405),
      ];
      for (const response of responses) {
        expect(response.headers).toMatchObject(securityHeaders);
        // Swagger UI must load over plain HTTP too.
        expect(response.headers['content-security-policy']).not.toMatch(/upgrade-insecure/);
      }
    });

    it('marks every /api response private and to be revalidated, errors included', async () => {
      const ok = await request(server()).get(tasks).set(auth).expect(200);
      expect(ok.headers['cache-control']).toBe('private, no-cache');
      const refused = await request(server()).get(tasks).expect(401);
      expect(refused.headers['cache-control']).toBe('private, no-cache');
      const health = await request(server()).get('/health/live').expect(200);
      expect(health.headers['cache-control']).not.toBe('private, no-cache');
    });
  });

  describe('conditional GET', () => {
    it('answers If-None-Match naming the current ETag with 304 and no body', async () => {
      const created = await request(server()).post(tasks).set(auth).send({ title: 'cached' });
      const path = `${tasks}/${created.body.id}`;
      const etag = created.headers.etag as string;
      for (const condition of [etag, `W/${etag}`, `"999", ${etag}`, '*']) {
        const response = await request(server())
          .get(path)
          .set(auth)
          .set('If-None-Match', condition);
        expect(response.status).toBe(304);
        expect(response.text ?? '').toBe('');
        expect(response.headers).toMatchObject({ etag, 'cache-control': 'private, no-cache' });
      }
      const stale = await request(server()).get(path).set(auth).set('If-None-Match', '"999"');
      expect(stale.status).toBe(200);
      expect(stale.body.title).toBe('cached');
      // A change makes the old tag stale.
      await request(server()).put(path).set(auth).send({ title: 'changed' }).expect(200);
      const changed = await request(server()).get(path).set(auth).set('If-None-Match', etag);
      expect(changed.status).toBe(200);
      expect(changed.body.title).toBe('changed');
      // Never for an unauthenticated request, whatever the tag.
      const anonymous = await request(server()).get(path).set('If-None-Match', '*');
      expectProblem(anonymous, 401, 'MISSING_TOKEN');
      await request(server()).delete(path).set(auth).expect(204);
    });
  });
});
