import { Client } from 'pg';
import request from 'supertest';
import { rowSnapshot } from './support/fixtures';
import { expectProblem } from './support/problem';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

// FR-011, FR-012: another user's task behaves like one that does not exist (404, never 403, so
// ids cannot be probed); another user's path is a 403; and nothing of the owner's row changes.
// Every item route of every owned resource is covered by owned-resources.spec.ts; these are the
// cases that are about tasks and user ids themselves.
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

  it("list and create: B's token under A's path is 403; B's own list never holds A's task", async () => {
    const before = await rowSnapshot(inspector, 'tasks', aliceTaskId);
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
    expect(await rowSnapshot(inspector, 'tasks', aliceTaskId)).toBe(before);
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
