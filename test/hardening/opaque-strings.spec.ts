import { Client } from 'pg';
import request from 'supertest';
import { Agent, get } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeCursor, MAX_CURSOR_LENGTH } from '../../src/owned-resources/cursor';
import { MAX_TOKEN_LENGTH } from '../../src/owned-resources/feed-token';
import { expectProblem, fieldErrors } from '../support/problem';
import { startTestApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { bearer, signToken } from '../support/tokens';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const heapUsed = (): number => {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

const OWNER = 'opaque';
const FIRST_KEY = 'the-first-cursor-key-of-this-deployment';
const SECOND_KEY = 'the-second-cursor-key-after-a-rotation';

const nextLink = (response: request.Response): string =>
  (/^<([^>]+)>; rel="next"$/.exec(response.headers['link'] as string) as RegExpExecArray)[1];

// Cursors and sync tokens are sealed with a server key: read by nobody else, built by nobody
// else, and bounded in length before anything remembers them.
describe('cursors and sync tokens', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let auth: { Authorization: string };
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await startTestApp({ CURSOR_KEY: FIRST_KEY }, database);
    auth = bearer(await signToken(OWNER));
    for (let n = 0; n < 3; n++) {
      await request(server())
        .post(`/api/${OWNER}/tasks`)
        .set(auth)
        .send({ title: `task ${n}` })
        .expect(201);
    }
  });

  afterAll(async () => {
    await testApp.close();
    await database.drop();
  });

  it('refuses over-long cursors and tokens by length, and says so in OpenAPI', async () => {
    const cursor = await request(server())
      .get(`/api/${OWNER}/tasks`)
      .query({ cursor: 'A'.repeat(MAX_CURSOR_LENGTH + 1) })
      .set(auth);
    expectProblem(cursor, 400, 'VALIDATION_ERROR');
    expect(fieldErrors(cursor)).toEqual([
      `cursor: cursor is at most ${MAX_CURSOR_LENGTH} characters: use the URL of the Link header as is`,
    ]);
    const since = await request(server())
      .get(`/api/${OWNER}/tasks/changes`)
      .query({ since: 'A'.repeat(MAX_TOKEN_LENGTH + 1) })
      .set(auth);
    expectProblem(since, 400, 'VALIDATION_ERROR');

    const document = (await request(server()).get('/docs/openapi.json').expect(200)).body;
    const parameter = (path: string, name: string) =>
      document.paths[path].get.parameters.find((p: { name: string }) => p.name === name);
    expect(parameter('/api/{userId}/tasks', 'cursor').schema.maxLength).toBe(MAX_CURSOR_LENGTH);
    expect(parameter('/api/{userId}/lists', 'cursor').schema.maxLength).toBe(MAX_CURSOR_LENGTH);
    expect(parameter('/api/{userId}/tasks/changes', 'since').schema.maxLength).toBe(
      MAX_TOKEN_LENGTH,
    );
  });

  it('answers 4,500 distinct 15 KB cursors and tokens with 400, and the heap does not keep them', async () => {
    // Over a socket, as clients send them (Fastify's inject keeps what it injects for a while).
    await testApp.app.listen(0, '127.0.0.1');
    const { port } = testApp.app.getHttpServer().address() as { port: number };
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const send = (n: number) =>
      new Promise<{ statusCode: number }>((resolve, reject) => {
        const path =
          n % 2 === 0
            ? `/api/${OWNER}/tasks?cursor=${n}${'C'.repeat(15_000)}`
            : `/api/${OWNER}/tasks/changes?since=${n}${'T'.repeat(15_000)}`;
        get({ host: '127.0.0.1', port, path, agent, headers: auth }, (response) => {
          response.resume();
          response.on('end', () => resolve({ statusCode: response.statusCode ?? 0 }));
        }).on('error', reject);
      });
    // Four connections at a time, each request a new cursor or token.
    const run = async (from: number, to: number, statuses?: Map<number, number>) => {
      let next = from;
      const worker = async () => {
        for (let n = next++; n < to; n = next++) {
          const { statusCode } = await send(n);
          statuses?.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    };
    await run(0, 200); // warm-up: compiled code, pools, caches
    const before = heapUsed();
    const statuses = new Map<number, number>();
    await run(200, 4_700, statuses);
    const growth = heapUsed() - before;
    process.stdout.write(
      `hardening figures: 4,500 distinct 15 KB cursors and tokens: statuses ${JSON.stringify([...statuses])}, heap growth ${(growth / 1024 / 1024).toFixed(1)} MB\n`,
    );
    expect([...statuses]).toEqual([[400, 4_500]]);
    agent.destroy();
    expect(growth).toBeLessThan(30 * 1024 * 1024);
  }, 300_000);

  it('refuses a cursor or token built by hand, and one holding a date that does not exist', async () => {
    const handBuilt = Buffer.from(
      JSON.stringify([
        '-created_at',
        '2026-01-01T00:00:00.000Z',
        '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21',
      ]),
    ).toString('base64url');
    for (const cursor of [
      handBuilt,
      encodeCursor({
        sort: '-created_at',
        value: '2023-02-30T00:00:00.000Z',
        id: '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21',
      }),
    ]) {
      const response = await request(server())
        .get(`/api/${OWNER}/tasks`)
        .query({ cursor })
        .set(auth);
      expectProblem(response, 400, 'VALIDATION_ERROR');
    }
    const token = Buffer.from(
      JSON.stringify(['tasks', '1', '00000000-0000-0000-0000-000000000000']),
    ).toString('base64url');
    const since = await request(server())
      .get(`/api/${OWNER}/tasks/changes`)
      .query({ since: token })
      .set(auth);
    expectProblem(since, 400, 'VALIDATION_ERROR');
  });

  it('answers 400, not 500, when the database refuses a date of a cursor (SQLSTATE 22008)', async () => {
    // The year 0 is a date to JavaScript, and out of range to PostgreSQL.
    const cursor = encodeCursor({
      sort: '-created_at',
      value: '0000-01-01T00:00:00.000Z',
      id: '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21',
    });
    const response = await request(server()).get(`/api/${OWNER}/tasks`).query({ cursor }).set(auth);
    expectProblem(response, 400, 'VALIDATION_ERROR');
  });

  it('does not show the transaction counter in a sync token', async () => {
    const feed = await request(server()).get(`/api/${OWNER}/tasks/changes`).set(auth).expect(200);
    const inspector = new Client({ connectionString: database.url });
    await inspector.connect();
    try {
      const { rows } = await inspector.query<{ xid: string }>(
        `SELECT max(change_xid)::text AS xid FROM tasks WHERE user_id = $1`,
        [OWNER],
      );
      const readable = Buffer.from(feed.body.next as string, 'base64url').toString('latin1');
      expect(readable).not.toContain(rows[0].xid);
      expect(readable).not.toContain('tasks');
    } finally {
      await inspector.end();
    }
  });

  it('still opens its own cursors and tokens after a key rotation, while the old key is kept', async () => {
    const page = await request(server()).get(`/api/${OWNER}/tasks?limit=1`).set(auth).expect(200);
    const link = nextLink(page);
    const feed = await request(server()).get(`/api/${OWNER}/tasks/changes`).set(auth).expect(200);
    await testApp.close();

    testApp = await startTestApp(
      { CURSOR_KEY: SECOND_KEY, CURSOR_PREVIOUS_KEYS: FIRST_KEY },
      database,
    );
    const rotated = await request(server()).get(link).set(auth).expect(200);
    expect(rotated.body).toHaveLength(1);
    await request(server())
      .get(`/api/${OWNER}/tasks/changes`)
      .query({ since: feed.body.next })
      .set(auth)
      .expect(200);
    const newLink = nextLink(rotated);
    await testApp.close();

    // Once the old key is dropped, what it sealed is refused; what the new key sealed is not.
    testApp = await startTestApp({ CURSOR_KEY: SECOND_KEY }, database);
    expectProblem(await request(server()).get(link).set(auth), 400, 'VALIDATION_ERROR');
    await request(server()).get(newLink).set(auth).expect(200);
  });
});
