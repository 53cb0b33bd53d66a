import { Client } from 'pg';
import request from 'supertest';
import type { ErrorCode } from '../src/http/error-codes';
import { givenList, givenTask, rowSnapshot } from './support/fixtures';
import { expectProblem, fieldErrors } from './support/problem';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

type Server = ReturnType<TestApp['app']['getHttpServer']>;
type ItemCall = (server: Server, path: string) => request.Test;

/** What the shared suite needs to know about one owned resource. */
interface OwnedResourceCase {
  /** The collection's path segment, and its table. */
  name: 'tasks' | 'lists';
  noun: string;
  notFoundCode: ErrorCode;
  /** A row of `owner`'s, written straight into the database. */
  given(db: Client, owner: string, label?: string): Promise<{ id: string }>;
  /** A valid body for POST, and for PUT (which changes the row). */
  createBody: object;
  updateBody: object;
  /** A body refused by validation, and the field it names. */
  invalidBody: { body: object; field: string };
  /** Each sort of the collection, and the SQL order it must follow (ties by id). */
  sorts: Record<string, string>;
  /** Item routes besides GET, PUT and DELETE, each a change with If-Match. */
  otherWrites: [string, ItemCall][];
  /** DELETE moves a row to the trash (`deleted_at`) rather than deleting it. */
  trash: boolean;
  /** Routes that name an item and are covered by the ownership matrix only (not 200 on a live row). */
  ownedOnly: [string, ItemCall][];
}

/** The collection path and id of an item path. */
const split = (path: string): [string, string] => {
  const cut = path.lastIndexOf('/');
  return [path.slice(0, cut), path.slice(cut + 1)];
};

const CASES: OwnedResourceCase[] = [
  {
    name: 'tasks',
    noun: 'task',
    notFoundCode: 'TASK_NOT_FOUND',
    given: (db, owner, label) => givenTask(db, owner, { title: label }),
    createBody: { title: 'new' },
    updateBody: { title: 'renamed', completed: true },
    invalidBody: { body: { title: '  ' }, field: 'title' },
    sorts: {
      created_at: 'created_at ASC, id ASC',
      '-created_at': 'created_at DESC, id DESC',
      updated_at: 'updated_at ASC, id ASC',
      '-updated_at': 'updated_at DESC, id DESC',
      title: 'title ASC, id ASC',
      '-title': 'title DESC, id DESC',
    },
    otherWrites: [
      ['PATCH …/complete', (server, path) => request(server).patch(`${path}/complete`)],
    ],
    trash: true,
    ownedOnly: [
      ['POST …/restore', (server, path) => request(server).post(`${path}/restore`)],
      [
        'PATCH the collection with its id',
        (server, path) => {
          const [collection, id] = split(path);
          return request(server)
            .patch(collection)
            .send({ ids: [id], completed: true });
        },
      ],
    ],
  },
  {
    name: 'lists',
    noun: 'list',
    notFoundCode: 'LIST_NOT_FOUND',
    given: (db, owner, label) => givenList(db, owner, { name: label }),
    createBody: { name: 'new' },
    updateBody: { name: 'renamed' },
    invalidBody: { body: { name: '' }, field: 'name' },
    sorts: {
      created_at: 'created_at ASC, id ASC',
      '-created_at': 'created_at DESC, id DESC',
      name: 'name ASC, id ASC',
      '-name': 'name DESC, id DESC',
    },
    otherWrites: [],
    trash: false,
    ownedOnly: [],
  },
];

const MISSING = '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21';

/** Every statement the app's pool sends, through node-postgres's Client#query. */
const sent: string[] = [];
const originalQuery = Client.prototype.query;

// specification §8: every owned resource is built from the same parts, and proven by the same
// suite: ownership, ETag/If-Match, keyset pages, problem details, one round trip per request.
describe.each(CASES)('owned resource: $name', (resource) => {
  let testApp: TestApp;
  let db: Client;
  let alice: { Authorization: string };
  let bob: { Authorization: string };
  const server = (): Server => testApp.app.getHttpServer();
  const collection = (owner: string) => `/api/${owner}/${resource.name}`;
  const item = (owner: string, id: string) => `${collection(owner)}/${id}`;
  const snapshot = (id: string) => rowSnapshot(db, resource.name, id);
  /** Whether a DELETE took the row away: deleted, or in the trash. */
  const removed = async (id: string): Promise<boolean> => {
    const trashed = resource.trash ? 'deleted_at IS NOT NULL' : 'false';
    const { rows } = await db.query<{ gone: boolean }>(
      `SELECT ${trashed} AS gone FROM ${resource.name} WHERE id = $1`,
      [id],
    );
    return rows[0]?.gone ?? true;
  };

  beforeAll(async () => {
    Client.prototype.query = function (this: Client, ...args: unknown[]) {
      const config = args[0] as string | { text: string };
      sent.push(typeof config === 'string' ? config : config.text);
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof Client.prototype.query;
    testApp = await startTestApp();
    db = new Client({ connectionString: testApp.database.url });
    await db.connect();
    alice = bearer(await signToken('alice'));
    bob = bearer(await signToken('bob'));
  });
  afterAll(async () => {
    Client.prototype.query = originalQuery;
    await db.end();
    await testApp.close();
  });

  /** The item routes, each as it would be called on `path`. */
  const itemRoutes: [string, ItemCall][] = [
    ['GET', (s, path) => request(s).get(path)],
    ['PUT', (s, path) => request(s).put(path).send(resource.updateBody)],
    [
      'PUT with If-Match',
      (s, path) => request(s).put(path).set('If-Match', '"1"').send(resource.updateBody),
    ],
    ['DELETE', (s, path) => request(s).delete(path)],
    ['DELETE with If-Match: *', (s, path) => request(s).delete(path).set('If-Match', '*')],
    ...resource.otherWrites,
  ];

  describe('ownership', () => {
    it.each([...itemRoutes, ...resource.ownedOnly])(
      "%s: another user's row under their own path is 404, and unchanged",
      async (_route, call) => {
        const row = await resource.given(db, 'alice');
        const before = await snapshot(row.id);
        expectProblem(
          await call(server(), item('bob', row.id)).set(bob),
          404,
          resource.notFoundCode,
        );
        expect(await snapshot(row.id)).toBe(before);
      },
    );

    it.each([...itemRoutes, ...resource.ownedOnly])(
      "%s: under the owner's path with another user's token is 403, and unchanged",
      async (_route, call) => {
        const row = await resource.given(db, 'alice');
        const before = await snapshot(row.id);
        expectProblem(await call(server(), item('alice', row.id)).set(bob), 403, 'FORBIDDEN');
        expect(await snapshot(row.id)).toBe(before);
      },
    );

    it("the collection holds only the caller's rows; another user's path is 403", async () => {
      const owner = `${resource.name}-owner`;
      const auth = bearer(await signToken(owner));
      const mine = await resource.given(db, owner);
      await resource.given(db, `${resource.name}-other`);
      const listed = await request(server()).get(collection(owner)).set(auth).expect(200);
      expect(listed.body.map((row: { id: string }) => row.id)).toEqual([mine.id]);
      expectProblem(await request(server()).get(collection(owner)).set(alice), 403, 'FORBIDDEN');
      expectProblem(
        await request(server()).post(collection(owner)).set(alice).send(resource.createBody),
        403,
        'FORBIDDEN',
      );
    });
  });

  describe('ETag and If-Match', () => {
    it('GET and writes carry the version as a strong ETag; a stale If-Match is 412 and changes nothing', async () => {
      const row = await resource.given(db, 'alice');
      const path = item('alice', row.id);
      expect((await request(server()).get(path).set(alice).expect(200)).headers['etag']).toBe(
        '"1"',
      );

      const before = await snapshot(row.id);
      const stale = await request(server())
        .put(path)
        .set(alice)
        .set('If-Match', '"9"')
        .send(resource.updateBody);
      expectProblem(stale, 412, 'PRECONDITION_FAILED');
      expect(stale.body.detail).toMatch(new RegExp(`^The ${resource.noun} is at version 1, not 9`));
      expectProblem(
        await request(server()).delete(path).set(alice).set('If-Match', '"9"'),
        412,
        'PRECONDITION_FAILED',
      );
      expect(await snapshot(row.id)).toBe(before);

      const updated = await request(server())
        .put(path)
        .set(alice)
        .set('If-Match', '"1"')
        .send(resource.updateBody)
        .expect(200);
      expect(updated.headers['etag']).toBe('"2"');
      await request(server()).delete(path).set(alice).set('If-Match', '"2"').expect(204);
      expect(await removed(row.id)).toBe(true);
    });

    it('an If-Match that is not * or one ETag is a 400 naming the header', async () => {
      const row = await resource.given(db, 'alice');
      for (const ifMatch of ['W/"1"', '"1", "2"', '1', '"0"']) {
        const response = await request(server())
          .delete(item('alice', row.id))
          .set(alice)
          .set('If-Match', ifMatch);
        expectProblem(response, 400, 'VALIDATION_ERROR');
        expect(fieldErrors(response)).toEqual([
          `If-Match: If-Match must be * or the ETag of the ${resource.noun}, for example "3"`,
        ]);
      }
      expect(await removed(row.id)).toBe(false);
    });
  });

  describe('keyset pages', () => {
    const owner = `${resource.name}-pager`;
    let auth: { Authorization: string };
    beforeAll(async () => {
      auth = bearer(await signToken(owner));
      // Labels that tie, so that the id breaks ties.
      for (const label of ['b', 'a', 'c', 'a', 'b', 'd', 'a'])
        await resource.given(db, owner, label);
    });

    it.each(Object.keys(resource.sorts))(
      'sort=%s: every row once, in order, by Link',
      async (sort) => {
        const seen: string[] = [];
        let next: string | undefined =
          `${collection(owner)}?sort=${encodeURIComponent(sort)}&limit=3`;
        while (next) {
          const page: request.Response = await request(server()).get(next).set(auth).expect(200);
          seen.push(...page.body.map((row: { id: string }) => row.id));
          next = /^<([^>]+)>; rel="next"$/.exec(page.headers['link'] ?? '')?.[1];
        }
        const { rows } = await db.query<{ id: string }>(
          `SELECT id FROM ${resource.name} WHERE user_id = $1 ORDER BY ${resource.sorts[sort]}`,
          [owner],
        );
        expect(seen).toEqual(rows.map((row) => row.id));
      },
    );

    it('a cursor of another sort, or altered, is a 400 on cursor', async () => {
      const [first, second] = Object.keys(resource.sorts);
      const page = await request(server())
        .get(`${collection(owner)}?sort=${first}&limit=1`)
        .set(auth);
      const cursor = new URL(
        /^<([^>]+)>/.exec(page.headers['link'])?.[1] as string,
        'http://h',
      ).searchParams.get('cursor');
      for (const url of [
        `${collection(owner)}?sort=${encodeURIComponent(second)}&cursor=${cursor}`,
        `${collection(owner)}?sort=${first}&cursor=${cursor}x`,
      ]) {
        const response = await request(server()).get(url).set(auth);
        expectProblem(response, 400, 'VALIDATION_ERROR');
        expect(response.body.errors[0].field).toBe('cursor');
      }
    });
  });

  describe('problem details', () => {
    it('401, 400 INVALID_UUID, 400 VALIDATION_ERROR and 404 are problem details', async () => {
      expectProblem(await request(server()).get(collection('alice')), 401, 'MISSING_TOKEN');
      expectProblem(
        await request(server()).get(item('alice', 'nope')).set(alice),
        400,
        'INVALID_UUID',
      );
      const invalid = await request(server())
        .post(collection('alice'))
        .set(alice)
        .send(resource.invalidBody.body);
      expectProblem(invalid, 400, 'VALIDATION_ERROR');
      expect(invalid.body.errors.map((error: { field: string }) => error.field)).toEqual([
        resource.invalidBody.field,
      ]);
      const missing = await request(server()).get(item('alice', MISSING)).set(alice);
      expectProblem(missing, 404, resource.notFoundCode);
      expect(missing.body.detail).toBe(`No ${resource.noun} ${MISSING} exists for this user.`);
    });
  });

  describe('one round trip per request', () => {
    /** The statements one request sent. */
    const sentBy = async (call: request.Test, status: number): Promise<string[]> => {
      sent.length = 0;
      await call.expect(status);
      return [...sent];
    };

    it('every route is one statement on success, scoped by owner, with no transaction', async () => {
      const row = await resource.given(db, 'alice');
      const path = item('alice', row.id);
      const perRoute: Record<string, string[]> = {
        list: await sentBy(
          request(server())
            .get(`${collection('alice')}?limit=10`)
            .set(alice),
          200,
        ),
        create: await sentBy(
          request(server()).post(collection('alice')).set(alice).send(resource.createBody),
          201,
        ),
        get: await sentBy(request(server()).get(path).set(alice), 200),
        update: await sentBy(
          request(server()).put(path).set(alice).set('If-Match', '"1"').send(resource.updateBody),
          200,
        ),
      };
      for (const [name, call] of resource.otherWrites) {
        perRoute[name] = await sentBy(call(server(), path).set(alice), 200);
      }
      perRoute.remove = await sentBy(request(server()).delete(path).set(alice), 204);
      for (const [route, statements] of Object.entries(perRoute)) {
        expect({ route, count: statements.length }).toEqual({ route, count: 1 });
        expect(statements[0]).toMatch(
          new RegExp(`WHERE "?user_id"? = \\$\\d+|^INSERT INTO "${resource.name}"`, 'i'),
        );
        expect(statements[0]).not.toMatch(/^\s*(BEGIN|START TRANSACTION|COMMIT)/i);
      }
    });

    it('none for a request refused before the database; a second only to tell 404 from 412', async () => {
      expect(await sentBy(request(server()).get(collection('alice')), 401)).toEqual([]);
      expect(await sentBy(request(server()).get(collection('bob')).set(alice), 403)).toEqual([]);
      expect(await sentBy(request(server()).get(item('alice', 'nope')).set(alice), 400)).toEqual(
        [],
      );
      expect(
        await sentBy(
          request(server()).post(collection('alice')).set(alice).send(resource.invalidBody.body),
          400,
        ),
      ).toEqual([]);
      const row = await resource.given(db, 'alice');
      expect(
        await sentBy(
          request(server())
            .put(item('alice', row.id))
            .set(alice)
            .set('If-Match', '"9"')
            .send(resource.updateBody),
          412,
        ),
      ).toHaveLength(2);
      expect(
        await sentBy(request(server()).get(item('alice', MISSING)).set(alice), 404),
      ).toHaveLength(1);
      expect(
        await sentBy(request(server()).delete(item('alice', MISSING)).set(alice), 404),
      ).toHaveLength(1);
    });
  });
});
