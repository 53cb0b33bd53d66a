import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';
import { expectProblem, fieldErrors } from './support/problem';
import { bearer, signToken } from './support/tokens';

const TASK_KEYS = [
  'completed',
  'created_at',
  'description',
  'due_at',
  'due_date',
  'due_time',
  'id',
  'list_id',
  'next_id',
  'priority',
  'recurrence',
  'remind_at',
  'tags',
  'time_zone',
  'title',
  'updated_at',
  'user_id',
];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// FR-010: the routes of specification §3 against the real app on a real PostgreSQL.
describe('tasks API', () => {
  let testApp: TestApp;
  let auth: { Authorization: string };
  const server = () => testApp.app.getHttpServer();
  const tasks = '/api/alice/tasks';

  beforeAll(async () => {
    testApp = await startTestApp();
    auth = bearer(await signToken('alice'));
  });
  afterAll(() => testApp.close());

  const create = async (body: object = { title: 'A task' }) =>
    (await request(server()).post(tasks).set(auth).send(body).expect(201)).body as {
      id: string;
      title: string;
    };

  describe('the calls a Phase II front end makes, unchanged', () => {
    it('POST {title, description} → 201 with the task; GET → an array of exactly the wire keys', async () => {
      const created = await request(server())
        .post(tasks)
        .set(auth)
        .send({ title: 'Buy milk', description: '2 litres' })
        .expect(201);
      expect(Object.keys(created.body).sort()).toEqual(TASK_KEYS);
      expect(created.body).toMatchObject({
        user_id: 'alice',
        title: 'Buy milk',
        description: '2 litres',
        completed: false,
      });
      expect(created.body.created_at).toMatch(ISO_UTC);
      expect(created.body.updated_at).toMatch(ISO_UTC);
      expect(created.headers['location']).toBe(`${tasks}/${created.body.id}`);
      expect(created.headers['etag']).toBe('"1"');
      expect(created.headers['content-type']).toMatch(/^application\/json/);

      const listed = await request(server()).get(tasks).set(auth).expect(200);
      expect(Array.isArray(listed.body)).toBe(true);
      for (const task of listed.body) expect(Object.keys(task).sort()).toEqual(TASK_KEYS);
      expect(listed.body).toContainEqual(created.body);
    });

    it('PUT with a partial body, PATCH …/complete, DELETE → 204 with an empty body', async () => {
      const task = await create({ title: 'Walk the dog', description: 'twice' });
      const updated = await request(server())
        .put(`${tasks}/${task.id}`)
        .set(auth)
        .send({ title: 'Walk the dog again' })
        .expect(200);
      expect(updated.body).toMatchObject({ title: 'Walk the dog again', description: 'twice' });
      expect(updated.headers['etag']).toBe('"2"');

      // A front end that sends its usual JSON Content-Type with no body.
      const toggled = await request(server())
        .patch(`${tasks}/${task.id}/complete`)
        .set(auth)
        .set('Content-Type', 'application/json')
        .expect(200);
      expect(toggled.body).toMatchObject({ completed: true, title: 'Walk the dog again' });
      expect(toggled.headers['etag']).toBe('"3"');
      const back = await request(server())
        .patch(`${tasks}/${task.id}/complete`)
        .set(auth)
        .expect(200);
      expect(back.body.completed).toBe(false);

      const deleted = await request(server()).delete(`${tasks}/${task.id}`).set(auth).expect(204);
      expect(deleted.text).toBe('');
      expect(deleted.headers['content-length'] ?? '0').toBe('0');
      const gone = await request(server()).get(`${tasks}/${task.id}`).set(auth);
      expectProblem(gone, 404, 'TASK_NOT_FOUND');
    });
  });

  it('GET one returns the task with its ETag', async () => {
    const task = await create({ title: 'Read', description: null, completed: true });
    const response = await request(server()).get(`${tasks}/${task.id}`).set(auth).expect(200);
    expect(response.body).toMatchObject({ id: task.id, description: null, completed: true });
    expect(response.headers['etag']).toBe('"1"');
  });

  it('trims the title and keeps the description as sent', async () => {
    const task = await create({ title: '  Call mum  ', description: '  as is ' });
    expect(task).toMatchObject({ title: 'Call mum', description: '  as is ' });
  });

  describe('partial update', () => {
    it('clears the description with null, keeps absent fields, refuses null title/completed', async () => {
      const task = await create({ title: 'Keep', description: 'Drop me', completed: true });
      const cleared = await request(server())
        .put(`${tasks}/${task.id}`)
        .set(auth)
        .send({ description: null })
        .expect(200);
      expect(cleared.body).toMatchObject({ title: 'Keep', description: null, completed: true });

      for (const body of [{ title: null }, { completed: null }]) {
        const refused = await request(server()).put(`${tasks}/${task.id}`).set(auth).send(body);
        expectProblem(refused, 400, 'VALIDATION_ERROR');
        expect(refused.body.errors).toHaveLength(1);
      }
    });

    it('refuses an empty update object', async () => {
      const task = await create();
      const response = await request(server()).put(`${tasks}/${task.id}`).set(auth).send({});
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(response.body.detail).toMatch(/at least one field/);
    });
  });

  describe('validation (400 VALIDATION_ERROR with a message per field)', () => {
    const cases: [string, unknown, string][] = [
      ['a blank title', { title: '   ' }, 'title: title must not be blank'],
      ['a missing title', { description: 'x' }, 'title: title must be a string'],
      [
        'a title over 255 chars',
        { title: 'x'.repeat(256) },
        'title: title must be shorter than or equal to 255 characters',
      ],
      [
        'a description over 10,000 chars',
        { title: 't', description: 'd'.repeat(10_001) },
        'description: description must be shorter than or equal to 10000 characters',
      ],
      ['a NUL in the title', { title: 'a\u0000b' }, 'title: title must not contain NUL characters'],
      [
        'a NUL in the description',
        { title: 't', description: '\u0000' },
        'description: description must not contain NUL characters',
      ],
      [
        '"true" as completed',
        { title: 't', completed: 'true' },
        'completed: completed must be a boolean value',
      ],
      [
        '1 as completed',
        { title: 't', completed: 1 },
        'completed: completed must be a boolean value',
      ],
      ['a number as title', { title: 5 }, 'title: title must be a string'],
      [
        'an unknown property',
        { title: 't', owner: 'bob' },
        'owner: property owner should not exist',
      ],
      ['an array body', [], 'body: the body must be a JSON object'],
      ['a string body', 'just text', 'body: the body must be a JSON object'],
      ['a number body', 1, 'body: the body must be a JSON object'],
      ['a null body', null, 'body: the body must be a JSON object'],
    ];
    it.each(cases)('refuses %s on create', async (_name, body, error) => {
      const response = await request(server())
        .post(tasks)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(body));
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response)).toEqual([error]);
    });

    it('accepts 255 characters of title (emoji count as one) and 10,000 of description', async () => {
      const task = await create({ title: '😀'.repeat(255), description: 'd'.repeat(10_000) });
      expect([...task.title]).toHaveLength(255);
    });

    it('applies the same rules to an update', async () => {
      const task = await create();
      const response = await request(server())
        .put(`${tasks}/${task.id}`)
        .set(auth)
        .send({ title: '', completed: 'false', extra: true });
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response).sort()).toEqual([
        'completed: completed must be a boolean value',
        'extra: property extra should not exist',
        'title: title must not be blank',
      ]);
    });

    it('refuses a POST without a body', async () => {
      const response = await request(server()).post(tasks).set(auth);
      expectProblem(response, 400, 'VALIDATION_ERROR');
    });
  });

  describe('If-Match', () => {
    it('applies a change only to the named version, else 412; * matches any version', async () => {
      const task = await create();
      const path = `${tasks}/${task.id}`;
      const stale = await request(server())
        .put(path)
        .set(auth)
        .set('If-Match', '"2"')
        .send({ title: 'x' });
      expectProblem(stale, 412, 'PRECONDITION_FAILED');

      const ok = await request(server())
        .put(path)
        .set(auth)
        .set('If-Match', '"1"')
        .send({ title: 'v2' });
      expect(ok.status).toBe(200);
      expect(ok.headers['etag']).toBe('"2"');

      expectProblem(
        await request(server()).patch(`${path}/complete`).set(auth).set('If-Match', '"1"'),
        412,
        'PRECONDITION_FAILED',
      );
      await request(server())
        .patch(`${path}/complete`)
        .set(auth)
        .set('If-Match', '"2"')
        .expect(200);
      await request(server())
        .put(path)
        .set(auth)
        .set('If-Match', '*')
        .send({ title: 'v4' })
        .expect(200);

      expectProblem(
        await request(server()).delete(path).set(auth).set('If-Match', '"3"'),
        412,
        'PRECONDITION_FAILED',
      );
      const current = await request(server()).get(path).set(auth).expect(200);
      expect(current.body.title).toBe('v4');
      await request(server())
        .delete(path)
        .set(auth)
        .set('If-Match', current.headers['etag'])
        .expect(204);
    });

    it('* on a task that does not exist is 404, not a success', async () => {
      const response = await request(server())
        .put(`${tasks}/00000000-0000-4000-8000-000000000000`)
        .set(auth)
        .set('If-Match', '*')
        .send({ title: 'x' });
      expectProblem(response, 404, 'TASK_NOT_FOUND');
    });

    it.each(['3', 'W/"1"', '"1", "2"', '"abc"', '"0"', '""'])(
      'refuses the malformed or unsupported If-Match %s with 400',
      async (header) => {
        const task = await create();
        const response = await request(server())
          .delete(`${tasks}/${task.id}`)
          .set(auth)
          .set('If-Match', header);
        expectProblem(response, 400, 'VALIDATION_ERROR');
        expect(fieldErrors(response)).toEqual([
          'If-Match: If-Match must be * or the ETag of the task, for example "3"',
        ]);
        await request(server()).get(`${tasks}/${task.id}`).set(auth).expect(200);
      },
    );
  });

  it('answers 400 INVALID_UUID for an id that is not a UUID, on every task route', async () => {
    const id = 'not-a-uuid';
    for (const call of [
      request(server()).get(`${tasks}/${id}`),
      request(server()).put(`${tasks}/${id}`).send({ title: 'x' }),
      request(server()).patch(`${tasks}/${id}/complete`),
      request(server()).delete(`${tasks}/${id}`),
    ]) {
      expectProblem(await call.set(auth), 400, 'INVALID_UUID');
    }
  });
});
