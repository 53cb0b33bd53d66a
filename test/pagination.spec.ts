import { Client } from 'pg';
import request from 'supertest';
import { encodeCursor } from '../src/owned-resources/cursor';
import { Keyring } from '../src/owned-resources/sealed-json';
import { TASK_SORTS, type TaskSort } from '../src/tasks/tasks.resource';
import { expectProblem, fieldErrors } from './support/problem';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

const OWNER = 'pager';
const TASK_COUNT = 1050;
const tasks = `/api/${OWNER}/tasks`;

// Relevance needs a search: test/organising-tasks.api.spec.ts walks it.
type PlainSort = Exclude<TaskSort, 'relevance'>;
const PLAIN_SORTS = TASK_SORTS.filter((sort): sort is PlainSort => sort !== 'relevance');
const DUE = `COALESCE(due_date, 'infinity'::date) ASC, COALESCE(due_at, 'infinity'::timestamptz) ASC, id ASC`;
const DUE_DESCENDING = `COALESCE(due_date, '-infinity'::date) DESC, COALESCE(due_at, 'infinity'::timestamptz) DESC, id DESC`;
const ORDER_BY: Record<PlainSort, string> = {
  created_at: 'created_at ASC, id ASC',
  '-created_at': 'created_at DESC, id DESC',
  updated_at: 'updated_at ASC, id ASC',
  '-updated_at': 'updated_at DESC, id DESC',
  title: 'title ASC, id ASC',
  '-title': 'title DESC, id DESC',
  priority: 'priority ASC, id ASC',
  '-priority': 'priority DESC, id DESC',
  due: DUE,
  '-due': DUE_DESCENDING,
};

const nextLink = (response: request.Response): string | null => {
  const link = response.headers['link'] as string | undefined;
  if (link === undefined) return null;
  const match = /^<([^>]+)>; rel="next"$/.exec(link);
  if (!match) throw new Error(`not an RFC 8288 next link: ${link}`);
  return match[1];
};

// specification §3: keyset pagination with an opaque cursor and a Link header.
describe('listing and pagination', () => {
  let testApp: TestApp;
  let inspector: Client;
  let auth: { Authorization: string };
  const server = () => testApp.app.getHttpServer();

  /** Follows the Link headers from `firstUrl` and returns every task id, page by page. */
  const walk = async (firstUrl: string, onPage?: (page: number) => Promise<void>) => {
    const pages: string[][] = [];
    let url: string | null = firstUrl;
    while (url) {
      const response = await request(server()).get(url).set(auth).expect(200);
      pages.push(response.body.map((task: { id: string }) => task.id));
      url = nextLink(response);
      await onPage?.(pages.length);
    }
    return pages;
  };

  const idsInOrder = async (sort: PlainSort, where = ''): Promise<string[]> =>
    (
      await inspector.query<{ id: string }>(
        `SELECT id FROM tasks WHERE user_id = $1 ${where} ORDER BY ${ORDER_BY[sort]}`,
        [OWNER],
      )
    ).rows.map((row) => row.id);

  beforeAll(async () => {
    testApp = await startTestApp();
    inspector = new Client({ connectionString: testApp.database.url });
    await inspector.connect();
    auth = bearer(await signToken(OWNER));
    // 1,050 tasks in one statement: distinct created_at, updated_at in another order, a title
    // shared by every 100th task, a third of them completed, priorities and due dates (all-day,
    // timed in two zones, none) repeating in other cycles.
    await inspector.query(
      `INSERT INTO tasks (user_id, title, completed, created_at, updated_at, priority,
                          due_date, due_time, time_zone)
       SELECT $1, 'task ' || lpad((n % 100)::text, 2, '0'), n % 3 = 0,
              timestamptz '2025-01-01' + n * interval '1 second',
              timestamptz '2025-06-01' - ((n * 37) % $2) * interval '1 millisecond',
              (ARRAY['none', 'low', 'medium', 'high'])[n % 4 + 1]::task_priority,
              CASE WHEN n % 5 > 0 THEN date '2025-03-01' + n % 20 END,
              CASE WHEN n % 5 > 1 THEN time '08:00' + (n % 7) * interval '1 hour' END,
              CASE WHEN n % 5 > 1 THEN (ARRAY['Europe/Berlin', 'America/New_York'])[n % 2 + 1] END
       FROM generate_series(1, $2) AS n`,
      [OWNER, TASK_COUNT],
    );
    await inspector.query(
      `INSERT INTO tasks (user_id, title) VALUES ('someone-else', 'not yours')`,
    );
  });
  afterAll(async () => {
    await inspector.end();
    await testApp.close();
  });

  it.each(PLAIN_SORTS)(
    'walks all 1,050 tasks exactly once, in order, with sort=%s',
    async (sort) => {
      const pages = await walk(`${tasks}?sort=${encodeURIComponent(sort)}&limit=100`);
      expect(pages).toHaveLength(11);
      expect(pages.slice(0, 10).every((page) => page.length === 100)).toBe(true);
      const ids = pages.flat();
      expect(new Set(ids).size).toBe(TASK_COUNT);
      expect(ids).toEqual(await idsInOrder(sort));
    },
  );

  it('defaults to sort=-created_at and 1,000 per page; Link follows; the last page has none', async () => {
    const first = await request(server()).get(tasks).set(auth).expect(200);
    expect(first.body).toHaveLength(1000);
    expect(first.body.map((task: { id: string }) => task.id)).toEqual(
      (await idsInOrder('-created_at')).slice(0, 1000),
    );
    const link = nextLink(first);
    expect(link).toMatch(new RegExp(`^${tasks}\\?cursor=[A-Za-z0-9_-]+$`));
    const rest = await request(server())
      .get(link as string)
      .set(auth)
      .expect(200);
    expect(rest.body).toHaveLength(50);
    expect(rest.headers['link']).toBeUndefined();

    const all = await request(server()).get(`${tasks}?limit=500&sort=title`).set(auth).expect(200);
    expect(all.body).toHaveLength(500);
    const second = await request(server())
      .get(nextLink(all) as string)
      .set(auth)
      .expect(200);
    const last = await request(server())
      .get(nextLink(second) as string)
      .set(auth)
      .expect(200);
    expect(last.body).toHaveLength(50);
    expect(last.headers['link']).toBeUndefined();
  });

  it('answers all 150 tasks of a 150-task user without limit, and no Link', async () => {
    const owner = 'user-with-150';
    await inspector.query(
      `INSERT INTO tasks (user_id, title) SELECT $1, 'task ' || n FROM generate_series(1, 150) n`,
      [owner],
    );
    const response = await request(server())
      .get(`/api/${owner}/tasks`)
      .set(bearer(await signToken(owner)))
      .expect(200);
    expect(response.body).toHaveLength(150);
    expect(response.headers['link']).toBeUndefined();
  });

  it('keeps the other query parameters in the Link, and filters by completed', async () => {
    const pages = await walk(`${tasks}?completed=true&limit=200&sort=-title`);
    expect(pages.flat()).toEqual(await idsInOrder('-title', 'AND completed'));
    const first = await request(server())
      .get(`${tasks}?completed=false&limit=300&sort=updated_at`)
      .set(auth)
      .expect(200);
    const link = new URL(nextLink(first) as string, 'http://host');
    expect(Object.fromEntries(link.searchParams)).toMatchObject({
      completed: 'false',
      limit: '300',
      sort: 'updated_at',
    });
    expect(first.body.every((task: { completed: boolean }) => !task.completed)).toBe(true);
  });

  it('neither repeats nor skips tasks when one is created mid-walk', async () => {
    let added: string | undefined;
    const addTask = async (page: number) => {
      if (page !== 3) return;
      const created = await request(server()).post(tasks).set(auth).send({ title: 'mid-walk' });
      added = created.body.id;
    };
    // Oldest first: the new task is the newest, so it appears once, on the last page.
    const ascending = (await walk(`${tasks}?sort=created_at&limit=100`, addTask)).flat();
    expect(new Set(ascending).size).toBe(ascending.length);
    expect(ascending).toEqual(await idsInOrder('created_at'));
    expect(ascending.at(-1)).toBe(added);

    // Newest first: the new task lands before the pages already read, and is not seen.
    const descending = (await walk(`${tasks}?sort=-created_at&limit=100`, addTask)).flat();
    expect(new Set(descending).size).toBe(descending.length);
    expect(descending).toEqual((await idsInOrder('-created_at')).filter((id) => id !== added));
    await inspector.query(`DELETE FROM tasks WHERE user_id = $1 AND title = 'mid-walk'`, [OWNER]);
  });

  describe('bad parameters are 400 VALIDATION_ERROR', () => {
    let cursor: string;
    beforeAll(async () => {
      const first = await request(server()).get(`${tasks}?sort=title&limit=2`).set(auth);
      cursor = new URL(nextLink(first) as string, 'http://host').searchParams.get(
        'cursor',
      ) as string;
    });

    const flip = (text: string, at: number) =>
      text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);

    it.each([
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['sort=urgency', 'sort'],
      ['sort=', 'sort'],
      ['completed=yes', 'completed'],
      ['completed=1', 'completed'],
      ['page=2', 'page'],
      ['cursor=not*base64', 'cursor'],
      ['cursor=', 'cursor'],
    ])('?%s', async (query, field) => {
      const response = await request(server()).get(`${tasks}?${query}`).set(auth);
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual([field]);
    });

    it('a cursor of another sort order', async () => {
      const response = await request(server())
        .get(`${tasks}?sort=-title&cursor=${cursor}`)
        .set(auth);
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response)).toEqual([
        'cursor: cursor belongs to sort=title, not sort=-title; use the URL of the Link header as is',
      ]);
    });

    it('a tampered, truncated or forged cursor', async () => {
      const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const forged = [
        ...Array.from({ length: cursor.length }, (_, at) => flip(cursor, at)),
        cursor.slice(0, -3),
        json(['title', 'task 01', '00000000-0000-4000-8000-000000000000']),
        new Keyring('another-key-that-this-service-does-not-hold').seal('cursor', [
          'title',
          'task 01',
          '00000000-0000-4000-8000-000000000000',
        ]),
        encodeCursor({ sort: 'title', value: 'x', id: 'not-a-uuid' }),
        encodeCursor({
          sort: 'created_at',
          value: 'yesterday',
          id: '00000000-0000-4000-8000-000000000000',
        }),
        encodeCursor({ sort: 'title', value: '', id: '00000000-0000-4000-8000-000000000000' }),
        'A'.repeat(5000),
      ];
      for (const bad of forged) {
        const sort = bad.includes('created') ? 'created_at' : 'title';
        const response = await request(server())
          .get(`${tasks}?sort=${sort}&cursor=${bad}`)
          .set(auth);
        expectProblem(response, 400, 'VALIDATION_ERROR');
      }
      // The untouched cursor still works.
      await request(server())
        .get(`${tasks}?sort=title&limit=2&cursor=${cursor}`)
        .set(auth)
        .expect(200);
    });
  });
});
