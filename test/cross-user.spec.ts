import { Client } from 'pg';
import request from 'supertest';
import { expectProblem } from './support/problem';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

// FR-011, FR-012: another user's task behaves like one that does not exist (404, never 403, so
// ids cannot be probed); another user's path is a 403; and nothing of the owner's row changes.
describe('cross-user access', () => {
  let testApp: TestApp;
  let inspector: Client;
  let alice: { Authorization: string };
  let bob: { Authorization: string };
  let aliceTaskId: string;
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    testApp = await startTestApp();
    inspector = new Client({ connectionString: testApp.database.url });
    await inspector.connect();
    alice = bearer(await signToken('alice'));
    bob = bearer(await signToken('bob'));
    const created = await request(server())
      .post('/api/alice/tasks')
      .set(alice)
      .send({ title: "Alice's secret", description: 'private' })
      .expect(201);
    aliceTaskId = created.body.id;
    await request(server()).post('/api/bob/tasks').set(bob).send({ title: "Bob's" }).expect(201);
  });
  afterAll(async () => {
    await inspector.end();
    await testApp.close();
  });

  /** The whole row as PostgreSQL prints it, and xmin, which any UPDATE changes. */
  const aliceRow = async (): Promise<string> => {
    const { rows } = await inspector.query<{ row: string }>(
      "SELECT t::text || ' xmin=' || t.xmin AS row FROM tasks t WHERE id = $1",
      [aliceTaskId],
    );
    return rows[0]?.row ?? 'deleted';
  };

  type Call = (owner: string, id: string) => request.Test;
  const taskRoutes: [string, Call][] = [
    ['GET one', (owner, id) => request(server()).get(`/api/${owner}/tasks/${id}`)],
    [
      'PUT',
      (owner, id) => request(server()).put(`/api/${owner}/tasks/${id}`).send({ title: 'pwned' }),
    ],
    [
      'PUT with If-Match',
      (owner, id) =>
        request(server())
          .put(`/api/${owner}/tasks/${id}`)
          .set('If-Match', '"1"')
          .send({ completed: true }),
    ],
    [
      'PATCH complete',
      (owner, id) => request(server()).patch(`/api/${owner}/tasks/${id}/complete`),
    ],
    [
      'PATCH complete with a stale If-Match',
      (owner, id) =>
        request(server()).patch(`/api/${owner}/tasks/${id}/complete`).set('If-Match', '"99"'),
    ],
    ['DELETE', (owner, id) => request(server()).delete(`/api/${owner}/tasks/${id}`)],
    [
      'DELETE with If-Match: *',
      (owner, id) => request(server()).delete(`/api/${owner}/tasks/${id}`).set('If-Match', '*'),
    ],
  ];

  it.each(taskRoutes)(
    "%s: B's token on A's task under B's path is 404 TASK_NOT_FOUND, and A's row is unchanged",
    async (_route, call) => {
      const before = await aliceRow();
      expectProblem(await call('bob', aliceTaskId).set(bob), 404, 'TASK_NOT_FOUND');
      expect(await aliceRow()).toBe(before);
    },
  );

  it.each(taskRoutes)(
    "%s: B's token under A's path is 403 FORBIDDEN, and A's row is unchanged",
    async (_route, call) => {
      const before = await aliceRow();
      expectProblem(await call('alice', aliceTaskId).set(bob), 403, 'FORBIDDEN');
      expect(await aliceRow()).toBe(before);
    },
  );

  it("list and create: B's token under A's path is 403; B's own list never holds A's task", async () => {
    const before = await aliceRow();
    expectProblem(await request(server()).get('/api/alice/tasks').set(bob), 403, 'FORBIDDEN');
    expectProblem(
      await request(server()).post('/api/alice/tasks').set(bob).send({ title: 'planted' }),
      403,
      'FORBIDDEN',
    );
    const bobs = await request(server()).get('/api/bob/tasks').set(bob).expect(200);
    expect(bobs.body.map((task: { title: string }) => task.title)).toEqual(["Bob's"]);
    const alices = await request(server()).get('/api/alice/tasks').set(alice).expect(200);
    expect(alices.body.map((task: { id: string }) => task.id)).toEqual([aliceTaskId]);
    expect(await aliceRow()).toBe(before);
  });

  it('the owner still has the task, exactly as created', async () => {
    const response = await request(server())
      .get(`/api/alice/tasks/${aliceTaskId}`)
      .set(alice)
      .expect(200);
    expect(response.body).toMatchObject({
      title: "Alice's secret",
      description: 'private',
      completed: false,
    });
    expect(response.headers['etag']).toBe('"1"');
  });

  it('a user id that needs percent-encoding works end to end', async () => {
    const owner = 'auth0|user 42/ü';
    const path = `/api/${encodeURIComponent(owner)}/tasks`;
    const auth = bearer(await signToken(owner));
    const created = await request(server()).post(path).set(auth).send({ title: 'x' }).expect(201);
    expect(created.body.user_id).toBe(owner);
    expect(created.headers['location']).toBe(`${path}/${created.body.id}`);
    await request(server()).get(created.headers['location']).set(auth).expect(200);
    expectProblem(await request(server()).get(path).set(alice), 403, 'FORBIDDEN');
  });
});
