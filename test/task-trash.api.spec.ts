import { Client } from 'pg';
import request from 'supertest';
import { givenList, givenTask, rowSnapshot } from './support/fixtures';
import { expectProblem, fieldErrors } from './support/problem';
import { StatementRecorder } from './support/statement-recorder';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

const MISSING = '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21';
const ids = (response: request.Response): string[] =>
  (response.body as { id: string }[]).map((task) => task.id);

const recorder = new StatementRecorder();

// specification §11: the trash, restore, bulk changes and clear completed, through HTTP.
describe('task trash and bulk changes API', () => {
  let testApp: TestApp;
  let db: Client;
  let alice: { Authorization: string };
  let bob: { Authorization: string };
  const server = () => testApp.app.getHttpServer();
  const tasks = (owner = 'alice') => `/api/${owner}/tasks`;
  const deletedAt = async (id: string): Promise<Date | null> =>
    (
      await db.query<{ deleted_at: Date | null }>('SELECT deleted_at FROM tasks WHERE id = $1', [
        id,
      ])
    ).rows[0].deleted_at;

  beforeAll(async () => {
    recorder.start();
    testApp = await startTestApp();
    db = new Client({ connectionString: testApp.database.url });
    await db.connect();
    alice = bearer(await signToken('alice'));
    bob = bearer(await signToken('bob'));
  });
  afterAll(async () => {
    recorder.stop();
    await db.end();
    await testApp.close();
  });

  describe('trash and restore', () => {
    it('delete → 404 everywhere → in the trash → restore (version + 1) → readable again', async () => {
      const task = await givenTask(db, 'alice', { title: 'Undo me' });
      const path = `${tasks()}/${task.id}`;
      await request(server()).delete(path).set(alice).set('If-Match', '"1"').expect(204);
      expect(await deletedAt(task.id)).toBeInstanceOf(Date);

      expectProblem(await request(server()).get(path).set(alice), 404, 'TASK_NOT_FOUND');
      expectProblem(
        await request(server()).put(path).set(alice).send({ title: 'x' }),
        404,
        'TASK_NOT_FOUND',
      );
      expectProblem(
        await request(server()).patch(`${path}/complete`).set(alice),
        404,
        'TASK_NOT_FOUND',
      );
      expectProblem(await request(server()).delete(path).set(alice), 404, 'TASK_NOT_FOUND');
      const live = await request(server()).get(tasks()).set(alice).expect(200);
      expect(ids(live)).not.toContain(task.id);

      const trash = await request(server()).get(`${tasks()}?trashed=true`).set(alice).expect(200);
      expect(trash.body[0]).toMatchObject({ id: task.id, title: 'Undo me' });
      expect(trash.body[0].deleted_at).toBe((await deletedAt(task.id))?.toISOString());

      const restored = await request(server()).post(`${path}/restore`).set(alice).expect(200);
      expect(restored.headers['etag']).toBe('"2"');
      expect(restored.body).toMatchObject({ id: task.id, title: 'Undo me' });
      expect(restored.body).not.toHaveProperty('deleted_at');
      await request(server()).get(path).set(alice).expect(200);
      expectProblem(
        await request(server()).post(`${path}/restore`).set(alice),
        404,
        'TASK_NOT_FOUND',
      );
    });

    it('a stale If-Match on delete is 412 and trashes nothing', async () => {
      const task = await givenTask(db, 'alice');
      expectProblem(
        await request(server()).delete(`${tasks()}/${task.id}`).set(alice).set('If-Match', '"7"'),
        412,
        'PRECONDITION_FAILED',
      );
      expect(await deletedAt(task.id)).toBeNull();
    });

    it('another user can neither see nor restore a trashed task', async () => {
      const task = await givenTask(db, 'alice');
      await request(server()).delete(`${tasks()}/${task.id}`).set(alice).expect(204);
      const before = await rowSnapshot(db, 'tasks', task.id);
      const bobsTrash = await request(server())
        .get(`${tasks('bob')}?trashed=true`)
        .set(bob);
      expect(ids(bobsTrash)).not.toContain(task.id);
      expectProblem(
        await request(server())
          .post(`${tasks('bob')}/${task.id}/restore`)
          .set(bob),
        404,
        'TASK_NOT_FOUND',
      );
      expectProblem(
        await request(server())
          .post(`${tasks('alice')}/${task.id}/restore`)
          .set(bob),
        403,
        'FORBIDDEN',
      );
      expectProblem(
        await request(server())
          .get(`${tasks('alice')}?trashed=true`)
          .set(bob),
        403,
        'FORBIDDEN',
      );
      expect(await rowSnapshot(db, 'tasks', task.id)).toBe(before);
    });

    it('restore takes no body: a body is a 400 and restores nothing', async () => {
      const task = await givenTask(db, 'alice');
      await request(server()).delete(`${tasks()}/${task.id}`).set(alice).expect(204);
      const response = await request(server())
        .post(`${tasks()}/${task.id}/restore`)
        .set(alice)
        .send({ title: 'x' });
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response)).toEqual(['body: this route takes no body: send none']);
      expect(await deletedAt(task.id)).toBeInstanceOf(Date);
    });

    it('lists the trash newest first, a page at a time by Link, and refuses live-list parameters', async () => {
      const owner = 'trash-pager';
      const auth = bearer(await signToken(owner));
      const rows = [];
      for (let n = 0; n < 7; n++) rows.push(await givenTask(db, owner, { title: `t${n}` }));
      // Ties on deleted_at, so that the id breaks them.
      await db.query(
        `UPDATE tasks SET deleted_at = now() - (right(title, 1)::int % 3) * interval '1 minute'
          WHERE user_id = $1 AND title <> 't6'`,
        [owner],
      );
      const seen: string[] = [];
      let next: string | undefined = `${tasks(owner)}?trashed=true&limit=2`;
      while (next) {
        const page: request.Response = await request(server()).get(next).set(auth).expect(200);
        seen.push(...ids(page));
        next = /^<([^>]+)>; rel="next"$/.exec(page.headers['link'] ?? '')?.[1];
      }
      const expected = await db.query<{ id: string }>(
        `SELECT id FROM tasks WHERE user_id = $1 AND deleted_at IS NOT NULL
          ORDER BY deleted_at DESC, id DESC`,
        [owner],
      );
      expect(seen).toEqual(expected.rows.map((row) => row.id));
      expect(seen).toHaveLength(6);

      await givenTask(db, owner);
      const live = await request(server())
        .get(`${tasks(owner)}?limit=1`)
        .set(auth)
        .expect(200);
      const liveCursor = new URL(
        `http://h${/^<([^>]+)>/.exec(live.headers['link'] ?? '<>')?.[1]}`,
      ).searchParams.get('cursor');
      for (const query of ['sort=title', 'completed=true', `list_id=${MISSING}`]) {
        const refused = await request(server())
          .get(`${tasks(owner)}?trashed=true&${query}`)
          .set(auth);
        expectProblem(refused, 400, 'VALIDATION_ERROR');
        expect(refused.body.errors[0].field).toBe(query.split('=')[0]);
      }
      expect(liveCursor).toEqual(expect.any(String));
      const crossed = await request(server())
        .get(`${tasks(owner)}?trashed=true&cursor=${liveCursor}`)
        .set(auth);
      expectProblem(crossed, 400, 'VALIDATION_ERROR');
    });
  });

  describe('bulk update', () => {
    it('changes every named task (version + 1), or none when one id is foreign, trashed or missing', async () => {
      const mine = [await givenTask(db, 'alice'), await givenTask(db, 'alice')];
      const foreign = await givenTask(db, 'bob');
      const trashed = await givenTask(db, 'alice');
      await db.query('UPDATE tasks SET deleted_at = now() WHERE id = $1', [trashed.id]);
      const before = await Promise.all(mine.map((task) => rowSnapshot(db, 'tasks', task.id)));

      for (const intruder of [foreign.id, trashed.id, MISSING]) {
        const refused = await request(server())
          .patch(tasks())
          .set(alice)
          .send({ ids: [...mine.map((task) => task.id), intruder], completed: true });
        expectProblem(refused, 404, 'TASK_NOT_FOUND');
        expect(refused.body.detail).toBe(`No task ${intruder} exists for this user.`);
      }
      expect(await Promise.all(mine.map((task) => rowSnapshot(db, 'tasks', task.id)))).toEqual(
        before,
      );
      expect(await rowSnapshot(db, 'tasks', foreign.id)).toMatch(/,f,/);

      const list = await givenList(db, 'alice');
      const changed = await request(server())
        .patch(tasks())
        .set(alice)
        // A repeated id counts once.
        .send({
          ids: [...mine.map((task) => task.id), mine[0].id],
          completed: true,
          list_id: list.id,
        })
        .expect(200);
      expect(ids(changed)).toEqual(mine.map((task) => task.id));
      expect(changed.body.every((task: { completed: boolean }) => task.completed)).toBe(true);
      const { rows } = await db.query<{ version: number; list_id: string }>(
        'SELECT version, list_id FROM tasks WHERE id = ANY($1::uuid[])',
        [mine.map((task) => task.id)],
      );
      expect(rows).toEqual([
        { version: 2, list_id: list.id },
        { version: 2, list_id: list.id },
      ]);
    });

    it("refuses a list that is not the caller's, and bodies without a change or with bad ids", async () => {
      const task = await givenTask(db, 'alice');
      const bobsList = await givenList(db, 'bob');
      const before = await rowSnapshot(db, 'tasks', task.id);
      const foreignList = await request(server())
        .patch(tasks())
        .set(alice)
        .send({ ids: [task.id], list_id: bobsList.id });
      expectProblem(foreignList, 400, 'VALIDATION_ERROR');
      expect(foreignList.body.errors[0].field).toBe('list_id');

      const cases: [object, string][] = [
        [{ ids: [task.id] }, 'body'],
        [{ ids: [], completed: true }, 'ids'],
        [{ ids: ['nope'], completed: true }, 'ids'],
        [{ ids: Array.from({ length: 501 }, () => task.id), completed: true }, 'ids'],
        [{ ids: [task.id], completed: 'true' }, 'completed'],
        [{ ids: [task.id], completed: true, title: 'x' }, 'title'],
      ];
      for (const [body, field] of cases) {
        const response = await request(server()).patch(tasks()).set(alice).send(body);
        expectProblem(response, 400, 'VALIDATION_ERROR');
        expect(response.body.errors[0].field).toBe(field);
      }
      expect(await rowSnapshot(db, 'tasks', task.id)).toBe(before);
    });
  });

  describe('clear completed', () => {
    it("trashes exactly the caller's completed live tasks, of one list when asked", async () => {
      const owner = 'clearer';
      const auth = bearer(await signToken(owner));
      const list = await givenList(db, owner);
      const doneInList = await givenTask(db, owner, { completed: true, list_id: list.id });
      const done = await givenTask(db, owner, { completed: true });
      const open = await givenTask(db, owner);
      const othersDone = await givenTask(db, 'bob', { completed: true });

      const inList = await request(server())
        .delete(`${tasks(owner)}?completed=true&list_id=${list.id}`)
        .set(auth)
        .expect(200);
      expect(inList.body).toEqual({ deleted: 1 });
      expect(await deletedAt(doneInList.id)).toBeInstanceOf(Date);
      expect(await deletedAt(done.id)).toBeNull();

      const all = await request(server())
        .delete(`${tasks(owner)}?completed=true`)
        .set(auth)
        .expect(200);
      expect(all.body).toEqual({ deleted: 1 });
      expect(await deletedAt(done.id)).toBeInstanceOf(Date);
      expect(await deletedAt(open.id)).toBeNull();
      expect(await deletedAt(othersDone.id)).toBeNull();
    });

    it('without completed=true is a 400 and trashes nothing', async () => {
      const task = await givenTask(db, 'alice', { completed: true });
      for (const query of ['', '?completed=false', '?completed=1', `?list_id=${MISSING}`]) {
        const response = await request(server()).delete(`${tasks()}${query}`).set(alice);
        expectProblem(response, 400, 'VALIDATION_ERROR');
        expect(response.body.errors[0].field).toBe('completed');
      }
      const withBody = await request(server())
        .delete(`${tasks()}?completed=true`)
        .set(alice)
        .send({ ids: [task.id] });
      expectProblem(withBody, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(withBody)).toEqual(['body: this route takes no body: send none']);
      expect(await deletedAt(task.id)).toBeNull();
    });
  });

  describe('the toggle takes no body', () => {
    it('a body is a 400 and changes nothing', async () => {
      const task = await givenTask(db, 'alice');
      const before = await rowSnapshot(db, 'tasks', task.id);
      const response = await request(server())
        .patch(`${tasks()}/${task.id}/complete`)
        .set(alice)
        .send({ completed: true });
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response)).toEqual(['body: this route takes no body: send none']);
      expect(await rowSnapshot(db, 'tasks', task.id)).toBe(before);
    });
  });

  describe('one round trip per request', () => {
    const sentBy = (call: request.Test, status: number) => recorder.sentBy(call, status);

    it('each new route is one owner-scoped statement on success, with no transaction', async () => {
      const task = await givenTask(db, 'alice', { completed: true });
      const other = await givenTask(db, 'alice');
      const path = `${tasks()}/${task.id}`;
      const perRoute: Record<string, string[]> = {
        trash: await sentBy(request(server()).delete(path).set(alice), 204),
        trashList: await sentBy(request(server()).get(`${tasks()}?trashed=true`).set(alice), 200),
        restore: await sentBy(request(server()).post(`${path}/restore`).set(alice), 200),
        bulk: await sentBy(
          request(server())
            .patch(tasks())
            .set(alice)
            .send({ ids: [task.id, other.id], completed: true }),
          200,
        ),
        clear: await sentBy(request(server()).delete(`${tasks()}?completed=true`).set(alice), 200),
      };
      for (const [route, statements] of Object.entries(perRoute)) {
        expect({ route, count: statements.length }).toEqual({ route, count: 1 });
        expect(statements[0]).toMatch(/WHERE "?user_id"? = \$\d+/);
        expect(statements[0]).not.toMatch(/^\s*(BEGIN|START TRANSACTION|COMMIT)/i);
      }
    });
  });
});
