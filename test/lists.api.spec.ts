import { Client } from 'pg';
import request from 'supertest';
import { expectProblem, fieldErrors } from './support/problem';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

const LIST_KEYS = ['created_at', 'id', 'name', 'updated_at', 'user_id'];
const MISSING = '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21';

// specification §8: task lists, and tasks in them, against the real app on a real PostgreSQL.
// Ownership, ETags, paging and round trips of every owned resource: owned-resources.spec.ts.
describe('lists API', () => {
  let testApp: TestApp;
  let inspector: Client;
  let alice: { Authorization: string };
  let bob: { Authorization: string };
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    testApp = await startTestApp();
    inspector = new Client({ connectionString: testApp.database.url });
    await inspector.connect();
    alice = bearer(await signToken('alice'));
    bob = bearer(await signToken('bob'));
  });
  afterAll(async () => {
    await inspector.end();
    await testApp.close();
  });

  const createList = async (name: string, owner = 'alice', auth = alice) =>
    (await request(server()).post(`/api/${owner}/lists`).set(auth).send({ name }).expect(201))
      .body as { id: string; name: string };
  const createTask = async (body: object, owner = 'alice', auth = alice) =>
    (await request(server()).post(`/api/${owner}/tasks`).set(auth).send(body).expect(201)).body as {
      id: string;
      list_id: string | null;
    };
  const countTasks = async (where: string, values: unknown[] = []): Promise<number> =>
    (await inspector.query(`SELECT count(*)::int AS n FROM tasks WHERE ${where}`, values)).rows[0]
      .n;

  it('creates, reads, renames and deletes a list, with Location and ETag', async () => {
    const created = await request(server())
      .post('/api/alice/lists')
      .set(alice)
      .send({ name: '  Groceries ' })
      .expect(201);
    expect(Object.keys(created.body).sort()).toEqual(LIST_KEYS);
    expect(created.body).toMatchObject({ user_id: 'alice', name: 'Groceries' });
    const path = `/api/alice/lists/${created.body.id}`;
    expect(created.headers['location']).toBe(path);
    expect(created.headers['etag']).toBe('"1"');

    const read = await request(server()).get(path).set(alice).expect(200);
    expect(read.body).toEqual(created.body);
    expect(read.headers['etag']).toBe('"1"');

    expectProblem(
      await request(server()).put(path).set(alice).set('If-Match', '"7"').send({ name: 'x' }),
      412,
      'PRECONDITION_FAILED',
    );
    const renamed = await request(server())
      .put(path)
      .set(alice)
      .set('If-Match', '"1"')
      .send({ name: 'Food' })
      .expect(200);
    expect(renamed.body).toMatchObject({ id: created.body.id, name: 'Food' });
    expect(renamed.headers['etag']).toBe('"2"');
    expect(Date.parse(renamed.body.updated_at)).toBeGreaterThanOrEqual(
      Date.parse(created.body.updated_at),
    );

    const listed = await request(server()).get('/api/alice/lists').set(alice).expect(200);
    expect(listed.body).toContainEqual(renamed.body);

    await request(server()).delete(path).set(alice).set('If-Match', '"2"').expect(204);
    expectProblem(await request(server()).get(path).set(alice), 404, 'LIST_NOT_FOUND');
    expectProblem(await request(server()).delete(path).set(alice), 404, 'LIST_NOT_FOUND');
  });

  it('refuses a blank, missing or over-long name, and unknown fields, writing nothing', async () => {
    const before = (await inspector.query('SELECT count(*)::int AS n FROM lists')).rows[0].n;
    for (const [body, expected] of [
      [{ name: '   ' }, 'name: name must not be blank'],
      [{}, 'name: name must be a string'],
      [{ name: 'x'.repeat(256) }, 'name: name must be shorter than or equal to 255 characters'],
      [{ name: 'ok', colour: 'red' }, 'colour: property colour should not exist'],
    ] as const) {
      const response = await request(server()).post('/api/alice/lists').set(alice).send(body);
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response)).toContain(expected);
    }
    const list = await createList('Keep');
    expectProblem(
      await request(server()).put(`/api/alice/lists/${list.id}`).set(alice).send({}),
      400,
      'VALIDATION_ERROR',
    );
    expectProblem(
      await request(server()).get('/api/alice/lists/nope').set(alice),
      400,
      'INVALID_UUID',
    );
    const after = (await inspector.query('SELECT count(*)::int AS n FROM lists')).rows[0].n;
    expect(after).toBe(before + 1);
  });

  it('pages by name with the Link header, each list exactly once', async () => {
    const owner = 'pager';
    const auth = bearer(await signToken(owner));
    for (const name of ['d', 'b', 'a', 'c', 'e']) await createList(name, owner, auth);
    const names: string[] = [];
    let next: string | undefined = `/api/${owner}/lists?sort=name&limit=2`;
    while (next) {
      const page: request.Response = await request(server()).get(next).set(auth).expect(200);
      names.push(...page.body.map((list: { name: string }) => list.name));
      next = /^<([^>]+)>; rel="next"$/.exec(page.headers['link'] ?? '')?.[1];
    }
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    const descending = await request(server()).get(`/api/${owner}/lists?sort=-name`).set(auth);
    expect(descending.body.map((list: { name: string }) => list.name)).toEqual([
      'e',
      'd',
      'c',
      'b',
      'a',
    ]);
    expectProblem(
      await request(server()).get(`/api/${owner}/lists?sort=title`).set(auth),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('puts tasks in a list, moves them out, and filters by list_id', async () => {
    const work = await createList('Work');
    const home = await createList('Home');
    const report = await createTask({ title: 'report', list_id: work.id });
    expect(report.list_id).toBe(work.id);
    const loose = await createTask({ title: 'loose' });
    expect(loose.list_id).toBeNull();
    const moved = await request(server())
      .put(`/api/alice/tasks/${loose.id}`)
      .set(alice)
      .send({ list_id: home.id })
      .expect(200);
    expect(moved.body.list_id).toBe(home.id);

    const inWork = await request(server()).get(`/api/alice/tasks?list_id=${work.id}`).set(alice);
    expect(inWork.body.map((task: { id: string }) => task.id)).toEqual([report.id]);
    const inHome = await request(server()).get(`/api/alice/tasks?list_id=${home.id}`).set(alice);
    expect(inHome.body.map((task: { id: string }) => task.id)).toEqual([loose.id]);
    expectProblem(
      await request(server()).get('/api/alice/tasks?list_id=work').set(alice),
      400,
      'VALIDATION_ERROR',
    );

    const out = await request(server())
      .put(`/api/alice/tasks/${loose.id}`)
      .set(alice)
      .send({ list_id: null })
      .expect(200);
    expect(out.body.list_id).toBeNull();
  });

  it("refuses a task in a missing list or in another user's list alike, writing nothing", async () => {
    const bobs = await createList("Bob's", 'bob', bob);
    const before = await countTasks('true');
    const refusals = [];
    for (const listId of [MISSING, bobs.id]) {
      const response = await request(server())
        .post('/api/alice/tasks')
        .set(alice)
        .send({ title: 'planted', list_id: listId });
      expectProblem(response, 400, 'VALIDATION_ERROR');
      refusals.push({ detail: response.body.detail, errors: response.body.errors });
    }
    expect(refusals[0]).toEqual(refusals[1]);
    expect(refusals[0].errors).toEqual([
      { field: 'list_id', message: 'list_id must be the id of one of your lists' },
    ]);

    // Nor can a task be moved there.
    const task = await createTask({ title: 'stays' });
    for (const listId of [MISSING, bobs.id]) {
      const response = await request(server())
        .put(`/api/alice/tasks/${task.id}`)
        .set(alice)
        .send({ list_id: listId, title: 'changed' });
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(response.body.errors).toEqual(refusals[0].errors);
    }
    const [row] = (await inspector.query('SELECT * FROM tasks WHERE id = $1', [task.id])).rows;
    expect(row).toMatchObject({ title: 'stays', list_id: null, version: 1 });
    expect(await countTasks('true')).toBe(before + 1);
    expect(await countTasks('list_id = $1', [bobs.id])).toBe(0);
  });

  it("deleting a list deletes its tasks, and nothing of anyone else's", async () => {
    const doomed = await createList('Doomed');
    const kept = await createList('Kept');
    await createTask({ title: 'goes 1', list_id: doomed.id });
    await createTask({ title: 'goes 2', list_id: doomed.id });
    const inKept = await createTask({ title: 'stays', list_id: kept.id });
    const loose = await createTask({ title: 'loose' });
    const bobsList = await createList('Bob', 'bob', bob);
    const bobsTask = await createTask({ title: "Bob's", list_id: bobsList.id }, 'bob', bob);
    const othersBefore = await countTasks('list_id IS DISTINCT FROM $1', [doomed.id]);

    await request(server()).delete(`/api/alice/lists/${doomed.id}`).set(alice).expect(204);

    expect(await countTasks('list_id = $1', [doomed.id])).toBe(0);
    expect(await countTasks('true')).toBe(othersBefore);
    for (const id of [inKept.id, loose.id, bobsTask.id]) {
      expect(await countTasks('id = $1', [id])).toBe(1);
    }
  });
});
