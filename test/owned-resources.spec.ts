import { Client } from 'pg';
import request from 'supertest';
import { rowSnapshot } from './support/fixtures';
import {
  type DocumentedCase,
  documentedCase,
  givenOwnedRow,
  type ItemRoute,
  OWNED_RESOURCE_CASES,
  type OwnedResourceCase,
  type ServedDocument,
} from './support/owned-resource-cases';
import { expectProblem, fieldErrors } from './support/problem';
import { StatementRecorder } from './support/statement-recorder';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

type Server = ReturnType<TestApp['app']['getHttpServer']>;
type ItemCall = (server: Server, path: string) => request.Test;

/** A call of an item route of the resource's own, as the document describes it. */
const callOf =
  ({ method, suffix }: ItemRoute): ItemCall =>
  (server, path) =>
    request(server)[method](`${path}${suffix}`);

/** Another registered resource than `resource` (for the tests that cross collections). */
const otherThan = (resource: OwnedResourceCase): OwnedResourceCase =>
  OWNED_RESOURCE_CASES.find((other) => other.name !== resource.name) as OwnedResourceCase;

const MISSING = '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21';

const recorder = new StatementRecorder();

// specification §8: every owned resource is built from the same parts, and proven by the same
// suite: ownership, ETag/If-Match, keyset pages, problem details, one round trip per request.
// Each resource of the registry is a case; its bodies and own routes come from the document.
describe.each(OWNED_RESOURCE_CASES)('owned resource: $name', (resource) => {
  let testApp: TestApp;
  let db: Client;
  let document: ServedDocument;
  let documented: DocumentedCase;
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
    recorder.start();
    testApp = await startTestApp();
    db = new Client({ connectionString: testApp.database.url });
    await db.connect();
    alice = bearer(await signToken('alice'));
    bob = bearer(await signToken('bob'));
    document = (await request(server()).get('/docs/openapi.json').expect(200)).body;
    documented = documentedCase(document, resource);
  });
  const given = (owner: string, label?: string) =>
    givenOwnedRow(db, resource, documented.createBody, owner, label);
  afterAll(async () => {
    recorder.stop();
    await db.end();
    await testApp.close();
  });

  /** The item routes, each as it would be called on `path`. */
  const itemRoutes: [string, ItemCall][] = [
    ['GET', (s, path) => request(s).get(path)],
    ['PUT', (s, path) => request(s).put(path).send(documented.updateBody)],
    [
      'PUT with If-Match',
      (s, path) => request(s).put(path).set('If-Match', '"1"').send(documented.updateBody),
    ],
    ['DELETE', (s, path) => request(s).delete(path)],
    ['DELETE with If-Match: *', (s, path) => request(s).delete(path).set('If-Match', '*')],
  ];
  /** The item routes of the resource's own (a toggle, a restore), from the document. */
  const ownItemRoutes = (): [string, ItemCall][] =>
    documented.otherItemRoutes.map((route) => [
      `${route.method.toUpperCase()} …${route.suffix}`,
      callOf(route),
    ]);

  describe('ownership', () => {
    const refusesAnotherUser = async (call: ItemCall) => {
      const row = await given('alice');
      const before = await snapshot(row.id);
      expectProblem(await call(server(), item('bob', row.id)).set(bob), 404, resource.notFoundCode);
      expect(await snapshot(row.id)).toBe(before);
    };
    const refusesAForeignPath = async (call: ItemCall) => {
      const row = await given('alice');
      const before = await snapshot(row.id);
      expectProblem(await call(server(), item('alice', row.id)).set(bob), 403, 'FORBIDDEN');
      expect(await snapshot(row.id)).toBe(before);
    };

    it.each(itemRoutes)(
      "%s: another user's row under their own path is 404, and unchanged",
      async (_route, call) => refusesAnotherUser(call),
    );

    it.each(itemRoutes)(
      "%s: under the owner's path with another user's token is 403, and unchanged",
      async (_route, call) => refusesAForeignPath(call),
    );

    it('every item route of its own (from the OpenAPI document): 404 for another user, 403 on a foreign path, unchanged', async () => {
      for (const [route, call] of ownItemRoutes()) {
        await refusesAnotherUser(call).catch((error: Error) => {
          throw new Error(`${route}: ${error.message}`);
        });
        await refusesAForeignPath(call).catch((error: Error) => {
          throw new Error(`${route}: ${error.message}`);
        });
      }
    });

    it("the collection holds only the caller's rows; another user's path is 403", async () => {
      const owner = `${resource.name}-owner`;
      const auth = bearer(await signToken(owner));
      const mine = await given(owner);
      await given(`${resource.name}-other`);
      const listed = await request(server()).get(collection(owner)).set(auth).expect(200);
      expect(listed.body.map((row: { id: string }) => row.id)).toEqual([mine.id]);
      expectProblem(await request(server()).get(collection(owner)).set(alice), 403, 'FORBIDDEN');
      expectProblem(
        await request(server()).post(collection(owner)).set(alice).send(documented.createBody),
        403,
        'FORBIDDEN',
      );
    });
  });

  describe('ETag and If-Match', () => {
    it('GET and writes carry the version as a strong ETag; a stale If-Match is 412 and changes nothing', async () => {
      const row = await given('alice');
      const path = item('alice', row.id);
      expect((await request(server()).get(path).set(alice).expect(200)).headers['etag']).toBe(
        '"1"',
      );

      const before = await snapshot(row.id);
      const stale = await request(server())
        .put(path)
        .set(alice)
        .set('If-Match', '"9"')
        .send(documented.updateBody);
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
        .send(documented.updateBody)
        .expect(200);
      expect(updated.headers['etag']).toBe('"2"');
      await request(server()).delete(path).set(alice).set('If-Match', '"2"').expect(204);
      expect(await removed(row.id)).toBe(true);
    });

    it('an If-Match that is not * or one ETag is a 400 naming the header', async () => {
      const row = await given('alice');
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
      for (const label of ['b', 'a', 'c', 'a', 'b', 'd', 'a']) await given(owner, label);
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
        .send(documented.invalidBody.body);
      expectProblem(invalid, 400, 'VALIDATION_ERROR');
      expect(invalid.body.errors.map((error: { field: string }) => error.field)).toEqual([
        documented.invalidBody.field,
      ]);
      const missing = await request(server()).get(item('alice', MISSING)).set(alice);
      expectProblem(missing, 404, resource.notFoundCode);
      expect(missing.body.detail).toBe(`No ${resource.noun} ${MISSING} exists for this user.`);
    });
  });

  describe('one round trip per request', () => {
    const sentBy = (call: request.Test, status: number) => recorder.sentBy(call, status);

    it('every route is one statement on success, scoped by owner, with no transaction', async () => {
      const row = await given('alice');
      const path = item('alice', row.id);
      const perRoute: Record<string, string[]> = {
        list: await sentBy(
          request(server())
            .get(`${collection('alice')}?limit=10`)
            .set(alice),
          200,
        ),
        create: await sentBy(
          request(server()).post(collection('alice')).set(alice).send(documented.createBody),
          201,
        ),
        get: await sentBy(request(server()).get(path).set(alice), 200),
        update: await sentBy(
          request(server()).put(path).set(alice).set('If-Match', '"1"').send(documented.updateBody),
          200,
        ),
      };
      // The changes of a live item with If-Match (a toggle); a restore is not one.
      for (const route of documented.otherItemRoutes.filter((own) => own.conditional)) {
        const name = `${route.method.toUpperCase()} …${route.suffix}`;
        perRoute[name] = await sentBy(callOf(route)(server(), path).set(alice), 200);
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
          request(server()).post(collection('alice')).set(alice).send(documented.invalidBody.body),
          400,
        ),
      ).toEqual([]);
      const row = await given('alice');
      expect(
        await sentBy(
          request(server())
            .put(item('alice', row.id))
            .set(alice)
            .set('If-Match', '"9"')
            .send(documented.updateBody),
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

  // specification §9: a create is safe to retry with Idempotency-Key.
  describe('Idempotency-Key on create', () => {
    let key = 0;
    const newKey = (): string => `key-${resource.name}-${(key += 1)}-${Date.now()}`;
    const create = (owner: string, token: object, idempotencyKey: string, body: object) =>
      request(server())
        .post(collection(owner))
        .set(token as Record<string, string>)
        .set('Idempotency-Key', idempotencyKey)
        .send(body);
    const count = async (owner: string): Promise<number> =>
      Number(
        (await db.query(`SELECT count(*) FROM ${resource.name} WHERE user_id = $1`, [owner]))
          .rows[0].count,
      );

    it('answers a retry with the first response (status, body, Location, ETag) and stores nothing new', async () => {
      const owner = `retry-${resource.name}`;
      const token = bearer(await signToken(owner));
      const idempotencyKey = newKey();
      const first = await create(owner, token, idempotencyKey, documented.createBody).expect(201);
      const again = await create(owner, token, idempotencyKey, documented.createBody).expect(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers['location']).toBe(first.headers['location']);
      expect(again.headers['etag']).toBe(first.headers['etag']);
      expect(first.headers['location']).toBe(item(owner, first.body.id));
      expect(await count(owner)).toBe(1);
      const keys = await db.query(
        'SELECT user_id, resource_path FROM idempotency_keys WHERE key = $1',
        [idempotencyKey],
      );
      expect(keys.rows).toEqual([{ user_id: owner, resource_path: first.headers['location'] }]);
    });

    it('refuses the key with another body (422 IDEMPOTENCY_KEY_REUSED), changing nothing', async () => {
      const owner = `reuse-${resource.name}`;
      const token = bearer(await signToken(owner));
      const idempotencyKey = newKey();
      await create(owner, token, idempotencyKey, documented.createBody).expect(201);
      const other = await create(owner, token, idempotencyKey, documented.updateBody);
      expectProblem(other, 422, 'IDEMPOTENCY_KEY_REUSED');
      expect(await count(owner)).toBe(1);
    });

    it('refuses a key used on the other collection (422: the path is part of the request)', async () => {
      const owner = `cross-${resource.name}`;
      const token = bearer(await signToken(owner));
      const idempotencyKey = newKey();
      const other = otherThan(resource);
      const otherBody = documentedCase(document, other).createBody;
      await request(server())
        .post(`/api/${owner}/${other.name}`)
        .set(token)
        .set('Idempotency-Key', idempotencyKey)
        .send(otherBody)
        .expect(201);
      expectProblem(
        await create(owner, token, idempotencyKey, documented.createBody),
        422,
        'IDEMPOTENCY_KEY_REUSED',
      );
      expect(await count(owner)).toBe(0);
    });

    it('scopes keys to the caller: another user with the same key creates their own', async () => {
      const idempotencyKey = newKey();
      const mine = await create('alice', alice, idempotencyKey, documented.createBody).expect(201);
      const theirs = await create('bob', bob, idempotencyKey, documented.createBody).expect(201);
      expect(theirs.body.id).not.toBe(mine.body.id);
      expect(theirs.body.user_id).toBe('bob');
    });

    it('20 concurrent requests with one key create exactly one, and all answer it', async () => {
      const owner = `concurrent-${resource.name}`;
      const token = bearer(await signToken(owner));
      const idempotencyKey = newKey();
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          create(owner, token, idempotencyKey, documented.createBody),
        ),
      );
      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
      expect(new Set(responses.map((response) => response.body.id)).size).toBe(1);
      expect(await count(owner)).toBe(1);
    });

    it('releases an expired key: the create runs again', async () => {
      const owner = `expired-${resource.name}`;
      const token = bearer(await signToken(owner));
      const idempotencyKey = newKey();
      const first = await create(owner, token, idempotencyKey, documented.createBody).expect(201);
      await db.query(
        `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`,
        [idempotencyKey],
      );
      const second = await create(owner, token, idempotencyKey, documented.createBody).expect(201);
      expect(second.body.id).not.toBe(first.body.id);
      expect(await count(owner)).toBe(2);
    });

    it('stores no key for a failed create: its retry runs again', async () => {
      const owner = `failed-${resource.name}`;
      const token = bearer(await signToken(owner));
      const idempotencyKey = newKey();
      await create(owner, token, idempotencyKey, documented.invalidBody.body).expect(400);
      await create(owner, token, idempotencyKey, documented.createBody).expect(201);
      expect(await count(owner)).toBe(1);
    });

    it.each([
      ['256 characters', 'k'.repeat(256)],
      ['a control character', 'a\tb'],
    ])(
      'refuses a key of %s (400 VALIDATION_ERROR naming Idempotency-Key), storing nothing',
      async (_, bad) => {
        const owner = `badkey-${resource.name}`;
        const token = bearer(await signToken(owner));
        const refused = await create(owner, token, bad, documented.createBody);
        expectProblem(refused, 400, 'VALIDATION_ERROR');
        expect(fieldErrors(refused)).toEqual([
          'Idempotency-Key: Idempotency-Key must be 1 to 255 printable ASCII characters, sent once',
        ]);
        expect(await count(owner)).toBe(0);
      },
    );

    it('costs one statement with a key, and two for a replayed retry', async () => {
      const idempotencyKey = newKey();
      const first = await recorder.sentBy(
        create('alice', alice, idempotencyKey, documented.createBody),
        201,
      );
      expect(first).toHaveLength(1);
      expect(first[0]).toMatch(
        new RegExp(`^\\s*WITH created AS \\(INSERT INTO "${resource.name}"`),
      );
      const retry = await recorder.sentBy(
        create('alice', alice, idempotencyKey, documented.createBody),
        201,
      );
      expect(retry).toHaveLength(2);
    });
  });

  // specification §10: the changes feed.
  describe('changes feed', () => {
    const changes = (owner: string, token: object, query = '') =>
      request(server())
        .get(`${collection(owner)}/changes${query}`)
        .set(token as Record<string, string>);

    it('lists every live item first, then what changed and what was deleted, in one statement each', async () => {
      const owner = `feed-${resource.name}`;
      const token = bearer(await signToken(owner));
      const kept = await request(server())
        .post(collection(owner))
        .set(token)
        .send(documented.createBody)
        .expect(201);
      const gone = await request(server())
        .post(collection(owner))
        .set(token)
        .send(documented.createBody)
        .expect(201);
      await given('someone-else');

      recorder.take();
      const full = await changes(owner, token).expect(200);
      expect(recorder.take()).toHaveLength(1);
      expect(full.body.has_more).toBe(false);
      const byId = (body: { changes: { id: string }[] }) =>
        Object.fromEntries(body.changes.map((change) => [change.id, change]));
      expect(byId(full.body)).toEqual({
        [kept.body.id]: { ...kept.body, deleted: false },
        [gone.body.id]: { ...gone.body, deleted: false },
      });

      const renamed = await request(server())
        .put(item(owner, kept.body.id))
        .set(token)
        .send(documented.updateBody)
        .expect(200);
      await request(server()).delete(item(owner, gone.body.id)).set(token).expect(204);
      const since = await changes(owner, token, `?since=${full.body.next}`).expect(200);
      expect(since.body.has_more).toBe(false);
      expect(byId(since.body)).toEqual({
        [kept.body.id]: { ...renamed.body, deleted: false },
        [gone.body.id]: { id: gone.body.id, deleted: true },
      });
      const quiet = await changes(owner, token, `?since=${since.body.next}`).expect(200);
      expect(quiet.body.changes).toEqual([]);
    });

    it('pages with limit and has_more', async () => {
      const owner = `feed-pages-${resource.name}`;
      const token = bearer(await signToken(owner));
      for (let n = 0; n < 3; n += 1) {
        await request(server())
          .post(collection(owner))
          .set(token)
          .send(documented.createBody)
          .expect(201);
      }
      const start = await changes(owner, token, '?limit=1').expect(200);
      let next = start.body.next as string;
      const seen = new Set<string>(start.body.changes.map((change: { id: string }) => change.id));
      let more = start.body.has_more as boolean;
      for (let calls = 0; more && calls < 10; calls += 1) {
        const page = await changes(owner, token, `?limit=1&since=${next}`).expect(200);
        expect(page.body.changes.length).toBeLessThanOrEqual(1);
        for (const change of page.body.changes) seen.add(change.id);
        ({ next, has_more: more } = page.body);
      }
      expect(start.body.has_more).toBe(true);
      expect(seen.size).toBe(3);
    });

    it.each([
      ['not a token', '?since=nope'],
      ['a cursor of the list', '?since=WyJ4Il0.AAAAAAAAAAAA'],
      ['limit 0', '?limit=0'],
      ['limit 1001', '?limit=1001'],
    ])('refuses %s with 400 VALIDATION_ERROR', async (_, query) => {
      expectProblem(await changes('alice', alice, query), 400, 'VALIDATION_ERROR');
    });

    it("refuses the other feed's token", async () => {
      const other = otherThan(resource).name;
      const token = (
        await request(server()).get(`/api/alice/${other}/changes`).set(alice).expect(200)
      ).body.next;
      const refused = await changes('alice', alice, `?since=${token}`);
      expectProblem(refused, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(refused)[0]).toMatch(/^since: /);
    });

    it('answers 410 SYNC_TOKEN_EXPIRED to a token older than the purged tombstones', async () => {
      const { next } = (await changes('alice', alice).expect(200)).body;
      await db.query(
        `INSERT INTO sync_horizons (resource, purged_through)
         VALUES ($1, pg_current_xact_id()::text::bigint)`,
        [resource.name],
      );
      try {
        expectProblem(await changes('alice', alice, `?since=${next}`), 410, 'SYNC_TOKEN_EXPIRED');
        // A first sync has nothing to miss.
        await changes('alice', alice).expect(200);
      } finally {
        await db.query('DELETE FROM sync_horizons WHERE resource = $1', [resource.name]);
      }
    });
  });
});
