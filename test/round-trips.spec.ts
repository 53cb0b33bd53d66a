import { Client } from 'pg';
import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

// The benchmark's premise: a request that reaches the database makes exactly one round trip
// on the success path (no transaction wrapper, no read-before-write), and a request refused by
// the HTTP layer makes none. Every statement the app's pool sends is recorded by wrapping
// node-postgres's Client#query, which TypeORM calls for each statement.
describe('database round trips per request', () => {
  let testApp: TestApp;
  let auth: { Authorization: string };
  const statements: string[] = [];
  const server = () => testApp.app.getHttpServer();
  const originalQuery = Client.prototype.query;

  beforeAll(async () => {
    Client.prototype.query = function (this: Client, ...args: unknown[]) {
      const config = args[0] as string | { text: string };
      statements.push(typeof config === 'string' ? config : config.text);
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof Client.prototype.query;
    testApp = await startTestApp();
    auth = bearer(await signToken('alice'));
  });
  afterAll(async () => {
    await testApp.close();
    Client.prototype.query = originalQuery;
  });

  /** The statements one request sent. */
  const sentBy = async (call: request.Test, status: number): Promise<string[]> => {
    statements.length = 0;
    await call.expect(status);
    return [...statements];
  };

  it('one statement for each task route on success, scoped by owner', async () => {
    const created = await request(server())
      .post('/api/alice/tasks')
      .set(auth)
      .send({ title: 'warm-up' });
    const path = `/api/alice/tasks/${created.body.id}`;

    const perRoute = {
      list: await sentBy(request(server()).get('/api/alice/tasks?limit=10').set(auth), 200),
      create: await sentBy(
        request(server()).post('/api/alice/tasks').set(auth).send({ title: 'x' }),
        201,
      ),
      get: await sentBy(request(server()).get(path).set(auth), 200),
      update: await sentBy(request(server()).put(path).set(auth).send({ title: 'y' }), 200),
      updateIfMatch: await sentBy(
        request(server()).put(path).set(auth).set('If-Match', '"2"').send({ title: 'z' }),
        200,
      ),
      toggle: await sentBy(request(server()).patch(`${path}/complete`).set(auth), 200),
      remove: await sentBy(request(server()).delete(path).set(auth).set('If-Match', '"4"'), 204),
    };
    for (const [route, sent] of Object.entries(perRoute)) {
      expect({ route, count: sent.length }).toEqual({ route, count: 1 });
      expect(sent[0]).toMatch(/WHERE "?user_id"? = \$\d+|^INSERT INTO "tasks"/i);
      expect(sent[0]).not.toMatch(/^\s*(BEGIN|START TRANSACTION|COMMIT)/i);
    }
  });

  it('no statement for a request refused before the database', async () => {
    const id = '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21';
    expect(await sentBy(request(server()).get('/api/alice/tasks'), 401)).toEqual([]);
    expect(await sentBy(request(server()).get('/api/bob/tasks').set(auth), 403)).toEqual([]);
    expect(await sentBy(request(server()).get('/api/alice/tasks/nope').set(auth), 400)).toEqual([]);
    expect(
      await sentBy(request(server()).post('/api/alice/tasks').set(auth).send({ title: '' }), 400),
    ).toEqual([]);
    expect(
      await sentBy(request(server()).put(`/api/alice/tasks/${id}`).set(auth).send({}), 400),
    ).toEqual([]);
    expect(await sentBy(request(server()).get('/api/alice/tasks?limit=0').set(auth), 400)).toEqual(
      [],
    );
  });

  it('a failed conditional write costs a second statement only to tell 404 from 412', async () => {
    const created = await request(server()).post('/api/alice/tasks').set(auth).send({ title: 'c' });
    const path = `/api/alice/tasks/${created.body.id}`;
    expect(
      await sentBy(
        request(server()).put(path).set(auth).set('If-Match', '"9"').send({ title: 'n' }),
        412,
      ),
    ).toHaveLength(2);
    const missing = '/api/alice/tasks/0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21';
    expect(await sentBy(request(server()).get(missing).set(auth), 404)).toHaveLength(1);
    expect(await sentBy(request(server()).delete(missing).set(auth), 404)).toHaveLength(1);
  });
});
