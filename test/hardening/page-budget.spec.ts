import { connect, type Socket } from 'node:net';
import { Client } from 'pg';
import request from 'supertest';
import { pageMemory } from '../../src/owned-resources/page-memory';
import { expectProblem } from '../support/problem';
import { startTestApp, type TestApp } from '../support/test-app';
import { bearer, signToken } from '../support/tokens';

// A maximal task: 255 and 10,000 four-byte characters, 41 KB of UTF-8.
const CLEF = '\u{1D11E}';
const MAXIMAL_TASK_BYTES = 4 * (255 + 10_000);
const PAGE_MAX_BYTES = 1024 * 1024;

const nextLink = (response: request.Response): string | null =>
  /^<([^>]+)>; rel="next"$/.exec((response.headers['link'] as string | undefined) ?? '')?.[1] ??
  null;

/** Inserts `count` maximal tasks of `owner` in one statement. */
async function insertMaximalTasks(client: Client, owner: string, count: number): Promise<void> {
  await client.query(
    `INSERT INTO tasks (user_id, title, description, created_at)
     SELECT $1, repeat($2, 255), repeat($2, 10000), now() - make_interval(secs => g)
       FROM generate_series(1, $3::int) g`,
    [owner, CLEF, count],
  );
}

// A page is bounded by bytes as well as by items: a user with large tasks cannot make one
// request hold 40 MB, and pages in flight are bounded for the whole process.
describe('the byte budget of a page', () => {
  let testApp: TestApp;
  let inspector: Client;
  const server = () => testApp.app.getHttpServer();
  const owner = 'heavy';
  let auth: { Authorization: string };

  beforeAll(async () => {
    testApp = await startTestApp({ PAGE_MAX_BYTES: String(PAGE_MAX_BYTES) });
    inspector = new Client({ connectionString: testApp.database.url });
    await inspector.connect();
    await insertMaximalTasks(inspector, owner, 120);
    auth = bearer(await signToken(owner));
  });

  afterAll(async () => {
    await inspector.end();
    await testApp.close();
  });

  it('stops a list page at the budget and links the rest, every task once', async () => {
    const seen: string[] = [];
    let url: string | null = `/api/${owner}/tasks`;
    let pages = 0;
    while (url) {
      const response: request.Response = await request(server()).get(url).set(auth).expect(200);
      pages++;
      // The texts of a page stay within the budget (one row may pass it, never by more than itself).
      expect(Buffer.byteLength(response.text)).toBeLessThan(
        PAGE_MAX_BYTES + 2 * MAXIMAL_TASK_BYTES,
      );
      seen.push(...response.body.map((task: { id: string }) => task.id));
      url = nextLink(response);
    }
    const perPage = Math.floor(PAGE_MAX_BYTES / (MAXIMAL_TASK_BYTES + 300));
    expect(pages).toBe(Math.ceil(120 / perPage));
    expect(new Set(seen).size).toBe(120);
  });

  it('cuts the trash and the changes feed by the same budget', async () => {
    const trash = await request(server())
      .get(`/api/${owner}/tasks?trashed=true`)
      .set(auth)
      .expect(200);
    expect(trash.body).toEqual([]);

    let since: string | undefined;
    let calls = 0;
    const ids = new Set<string>();
    for (let more = true; more; calls++) {
      const response = await request(server())
        .get(`/api/${owner}/tasks/changes`)
        .query(since === undefined ? {} : { since })
        .set(auth)
        .expect(200);
      expect(Buffer.byteLength(response.text)).toBeLessThan(
        PAGE_MAX_BYTES + 2 * MAXIMAL_TASK_BYTES,
      );
      for (const change of response.body.changes as { id: string }[]) ids.add(change.id);
      since = response.body.next as string;
      more = response.body.has_more as boolean;
    }
    expect(ids.size).toBe(120);
    expect(calls).toBeGreaterThan(4);
  });

  it('serves a single task larger than a small budget, a page at a time', async () => {
    const small = await startTestApp(
      { PAGE_MAX_BYTES: String(64 * 1024), PAGE_BYTES_IN_FLIGHT: String(64 * 1024) },
      { database: testApp.database },
    );
    try {
      const first = await request(small.app.getHttpServer())
        .get(`/api/${owner}/tasks?limit=3`)
        .set(auth)
        .expect(200);
      expect(first.body).toHaveLength(1);
      expect(nextLink(first)).not.toBeNull();
    } finally {
      await small.close();
    }
  });
});

/** Resolves once `condition` holds, polling every 20 ms (the test's timeout bounds the wait). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('pages in flight', () => {
  let testApp: TestApp;
  const owner = 'hoarder';
  let auth: { Authorization: string };

  beforeAll(async () => {
    // One page may take 8 MiB, more than the sockets of an unread response can hold; the
    // process holds no more than one such page at a time.
    // Reading 8 MiB may take seconds on a busy machine: no statement timeout in the way.
    testApp = await startTestApp({
      PAGE_MAX_BYTES: String(8 * 1024 * 1024),
      PAGE_BYTES_IN_FLIGHT: String(8 * 1024 * 1024),
      DATABASE_STATEMENT_TIMEOUT_MS: '120000',
    });
    const inspector = new Client({ connectionString: testApp.database.url });
    await inspector.connect();
    await insertMaximalTasks(inspector, owner, 200);
    await inspector.end();
    auth = bearer(await signToken(owner));
    await testApp.app.listen(0, '127.0.0.1');
  });

  afterAll(() => testApp.close());

  /** Sends a GET for a page and does not read its answer: the page stays in flight. */
  const unreadPage = async (): Promise<Socket> => {
    const { port } = testApp.app.getHttpServer().address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    socket.write(
      `GET /api/${owner}/tasks HTTP/1.1\r\nHost: test\r\nAuthorization: ${auth.Authorization}\r\n\r\n`,
    );
    return socket;
  };

  it('answers 503 with Retry-After past the bound, and serves again once the page is gone', async () => {
    const socket = await unreadPage();
    const url = `/api/${owner}/tasks`;
    const server = testApp.app.getHttpServer();
    // The unread page is held once its rows are read (the process's account says so).
    await until(() => pageMemory.bytesHeld > 0);
    const refused = await request(server).get(url).set(auth);
    expectProblem(refused, 503, 'SERVICE_OVERLOADED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

    socket.destroy();
    await until(() => pageMemory.bytesHeld === 0);
    await request(server).get(url).set(auth).expect(200);
  });
});
