import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Pool, type QueryConfig, types } from 'pg';

/**
 * The floor's routes of specification §13 and §10 (bench/floor.ts calls them): the list with
 * `sort` and `q` (search) over keyset pages, and the tasks' changes feed. They send the service's
 * very SQL: its statements as `npm run sql:update` writes them into docs/sql/tasks.sql, read from
 * there by name, so that the floor does the database work the service does and no more. Each
 * statement is prepared as the service prepares it: the feed and a page with no filter by name,
 * a search unnamed (planned with each call's values, task-list.statements.ts). Cursors and feed tokens are sealed with
 * AES-256-GCM, as the service seals them, so that a client can neither read nor forge them.
 * Other filters of §13 are not benchmarked and not served here.
 */

/** What a handler answers; bench/floor.ts sends it. */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface Statement {
  text: string;
  /** The parameters' names, in the order of `$1`, `$2`, … */
  parameters: string[];
}

/** A page's byte budget: the service's default PAGE_MAX_BYTES. */
const MAX_BYTES = 1024 * 1024;
const MAX_LIMIT = 1000;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Each statement of docs/sql/tasks.sql: `-- <name>`, `-- parameters: $1 a, $2 b`, its text. */
function loadStatements(path: string): Map<string, Statement> {
  const statements = new Map<string, Statement>();
  const block = /^-- (tasks\.[^\n]+)\n(?:-- parameters: ([^\n]*)\n)?([\s\S]*?);\n(?=\n-- |\s*$)/gm;
  for (const [, name, parameters, text] of readFileSync(path, 'utf8').matchAll(block)) {
    statements.set(name, {
      text: text.trim(),
      parameters: (parameters ?? '')
        .split(', ')
        .filter(Boolean)
        .map((p) => p.split(' ')[1]),
    });
  }
  return statements;
}

const STATEMENTS = loadStatements(resolve('docs/sql/tasks.sql'));

// Dates as their text, as the service answers them (node-postgres makes a local Date of them).
const DATE_OID = 1082;
const TEXT_DATES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === DATE_OID
      ? (value: string) => value
      : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
};

async function run<Row>(
  pool: Pool,
  name: string,
  values: Record<string, unknown>,
  prepared: boolean,
): Promise<Row[]> {
  const statement = STATEMENTS.get(name);
  if (!statement) throw new Error(`docs/sql/tasks.sql has no statement ${name}`);
  const config: QueryConfig = {
    text: statement.text,
    values: statement.parameters.map((parameter) => values[parameter] ?? null),
    types: TEXT_DATES,
    ...(prepared ? { name } : {}),
  };
  return (await pool.query(config)).rows as Row[];
}

const KEY = Buffer.from(
  hkdfSync('sha256', process.env.AUTH_JWT_SECRET ?? '', 'tasks-bench-floor', 'opaque strings', 32),
);

/** A JSON value, encrypted and authenticated for `purpose`: nonce | ciphertext | tag. */
export function seal(purpose: string, value: unknown): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', KEY, nonce);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/** The value `seal` wrapped for `purpose`, or undefined for anything else. */
export function unseal(purpose: string, text: string): unknown {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length <= 28 || text.length > 4096) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', KEY, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const json = Buffer.concat([
      decipher.update(bytes.subarray(12, bytes.length - 16)),
      decipher.final(),
    ]).toString('utf8');
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/** A task as the service's statements select it (camelCase aliases, timestamps as text). */
interface TaskRow {
  id: string;
  userId: string;
  title: string;
  description: string | null;
  completed: boolean;
  listId: string | null;
  priority: string;
  dueDate: string | null;
  dueTime: string | null;
  timeZone: string | null;
  dueAt: string | null;
  tags: string[];
  recurrence: string | null;
  recurrenceCount: number | null;
  nextId: string | null;
  remindAt: string | null;
  createdAt: string;
  updatedAt: string;
  titleMatch?: boolean;
}

interface PageAccounting {
  page_bytes: string;
}

/** A task on the wire, as the service answers it (its TaskResponse). */
export const toWire = (row: TaskRow) => ({
  id: row.id,
  user_id: row.userId,
  title: row.title,
  description: row.description,
  completed: row.completed,
  list_id: row.listId,
  priority: row.priority,
  due_date: row.dueDate,
  due_time: row.dueTime === null ? null : row.dueTime.slice(0, 5),
  time_zone: row.timeZone,
  due_at: row.dueAt,
  tags: row.tags,
  recurrence:
    row.recurrence === null
      ? null
      : row.recurrenceCount === null
        ? row.recurrence
        : `${row.recurrence};COUNT=${row.recurrenceCount}`,
  next_id: row.nextId,
  remind_at: row.remindAt,
  created_at: row.createdAt,
  updated_at: row.updatedAt,
});

/** At most `limit` rows, each starting within the byte budget (the first always): more follow? */
function budgeted<Row extends PageAccounting>(rows: Row[], limit: number) {
  const page: Row[] = [];
  for (const row of rows) {
    if (page.length === limit || (page.length > 0 && Number(row.page_bytes) > MAX_BYTES)) break;
    page.push(row);
  }
  return { page, more: rows.length > page.length };
}

const problem = (status: number, code: string): Answer => ({
  status,
  body: { type: 'about:blank', title: code, status, code },
});

/** The values of each sort's key, in its statement's `after0`, `after1` order. */
const SORT_KEYS: Record<string, (row: TaskRow) => unknown[]> = {
  created_at: (row) => [row.createdAt],
  '-created_at': (row) => [row.createdAt],
  updated_at: (row) => [row.updatedAt],
  '-updated_at': (row) => [row.updatedAt],
  title: (row) => [row.title],
  '-title': (row) => [row.title],
  priority: (row) => [row.priority],
  '-priority': (row) => [row.priority],
  due: (row) => [row.dueDate, row.dueAt],
  '-due': (row) => [row.dueDate, row.dueAt],
  relevance: (row) => [row.titleMatch, row.createdAt],
};

/** `GET /api/:userId/tasks?sort=…&q=…&limit=…&cursor=…`: one keyset page, one statement. */
async function listPage(pool: Pool, userId: string, url: URL): Promise<Answer> {
  const q = url.searchParams.get('q');
  const sort = url.searchParams.get('sort') ?? (q === null ? '-created_at' : 'relevance');
  const limit = Number(url.searchParams.get('limit') ?? MAX_LIMIT);
  const keyOf = SORT_KEYS[sort];
  if (!keyOf || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return problem(400, 'VALIDATION_ERROR');
  }
  const values: Record<string, unknown> = { userId, limit: limit + 1, maxBytes: MAX_BYTES };
  const words = q?.split(/\s+/u).filter((word) => word !== '');
  if (words !== undefined) values.words = words;
  const cursor = url.searchParams.get('cursor');
  if (cursor !== null) {
    const after = unseal('cursor', cursor);
    if (!Array.isArray(after) || after[0] !== sort || !UUID.test(String(after.at(-1)))) {
      return problem(400, 'VALIDATION_ERROR');
    }
    after.slice(1, -1).forEach((value: unknown, index) => (values[`after${index}`] = value));
    values.afterId = after.at(-1);
  }
  // As the service: a search is planned with its values, a page with no filter is prepared.
  const name = words
    ? `tasks.list sort=${sort} indexedFilter=words resumed=${cursor !== null}`
    : `tasks.listAll sort=${sort} resumed=${cursor !== null}`;
  const rows = await run<TaskRow & PageAccounting>(pool, name, values, !words);
  const { page, more } = budgeted(rows, limit);
  const headers: Record<string, string> = {};
  if (more) {
    const last = page[page.length - 1];
    const next = new URLSearchParams(url.searchParams);
    next.set('cursor', seal('cursor', [sort, ...keyOf(last), last.id]));
    headers.link = `<${url.pathname}?${next}>; rel="next"`;
  }
  return { status: 200, body: page.map(toWire), headers };
}

/** A position in the tasks' changes feed (docs/sync.md). */
export interface FeedPosition {
  xid: string;
  id: string;
}

export const comparePositions = (a: FeedPosition, b: FeedPosition): number => {
  const byXid = BigInt(a.xid) - BigInt(b.xid);
  if (byXid !== 0n) return byXid < 0n ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

/** A row of `tasks.changes` (the task's columns under their property names, timestamps as text). */
interface ChangeRow extends PageAccounting {
  snapshot_xmin: string;
  expired: boolean;
  change_xid: string | null;
  id: string | null;
  deleted: boolean;
  [column: string]: unknown;
}

/** A change as the feed and a live event answer it. */
export interface FeedChange {
  position: FeedPosition;
  wire: unknown;
}

// The feed's statement names its columns by the entity's properties, as get one and the list do.
const changeOnWire = (row: ChangeRow): unknown =>
  row.deleted
    ? { id: row.id, deleted: true }
    : { ...toWire(row as unknown as Parameters<typeof toWire>[0]), deleted: false };

/**
 * One read of the tasks' changes feed after `since` (null: a first sync), and the position to
 * ask from next: never past the snapshot's xmin, as the service's `pageOfChanges`.
 */
export async function readChanges(
  pool: Pool,
  userId: string,
  since: FeedPosition | null,
  limit: number,
): Promise<{ changes: FeedChange[]; next: FeedPosition; hasMore: boolean; expired: boolean }> {
  const requested = since ?? { xid: '0', id: NIL_UUID };
  const rows = await run<ChangeRow>(
    pool,
    'tasks.changes',
    {
      userId,
      sinceXid: requested.xid,
      sinceId: requested.id,
      limit,
      incremental: since !== null,
      maxBytes: MAX_BYTES,
    },
    true,
  );
  const { page, more } = budgeted(
    rows.filter((row) => row.id !== null),
    limit,
  );
  const changes = page.map((row) => ({
    position: { xid: row.change_xid as string, id: row.id as string },
    wire: changeOnWire(row),
  }));
  const settled = { xid: rows[0]?.snapshot_xmin ?? requested.xid, id: NIL_UUID };
  const atLeastRequested = comparePositions(settled, requested) < 0 ? requested : settled;
  const last = changes.at(-1)?.position;
  if (more && last && comparePositions(last, settled) < 0) {
    return { changes, next: last, hasMore: true, expired: false };
  }
  return {
    changes,
    next: atLeastRequested,
    hasMore: more && comparePositions(atLeastRequested, requested) > 0,
    expired: rows[0]?.expired ?? false,
  };
}

/** The feed's `since` and `next`, and an event's id: a sealed position. */
export const feedToken = (position: FeedPosition): string =>
  seal('feed:tasks', [position.xid, position.id]);

/** `GET /api/:userId/tasks/changes?since=…&limit=…`: one statement. */
async function changesPage(pool: Pool, userId: string, url: URL): Promise<Answer> {
  const limit = Number(url.searchParams.get('limit') ?? MAX_LIMIT);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return problem(400, 'VALIDATION_ERROR');
  }
  const token = url.searchParams.get('since');
  let since: FeedPosition | null = null;
  if (token !== null) {
    const position = unseal('feed:tasks', token);
    if (!Array.isArray(position) || position.length !== 2) return problem(400, 'VALIDATION_ERROR');
    since = { xid: String(position[0]), id: String(position[1]) };
  }
  const page = await readChanges(pool, userId, since, limit);
  if (page.expired) return problem(410, 'SYNC_TOKEN_EXPIRED');
  return {
    status: 200,
    body: {
      changes: page.changes.map((change) => change.wire),
      next: feedToken(page.next),
      has_more: page.hasMore,
    },
  };
}

/**
 * The floor's router calls this for every authenticated request: the answer of a route of this
 * file (a GET of the list with `sort` or `q`, or of `…/tasks/changes`), or undefined for the
 * routes bench/floor.ts serves itself.
 */
export function organisingRoute(
  pool: Pool,
  method: string | undefined,
  userId: string,
  id: string | undefined,
  url: URL,
): Promise<Answer> | undefined {
  if (method !== 'GET') return undefined;
  if (id === 'changes') return changesPage(pool, userId, url);
  const organised = url.searchParams.has('sort') || url.searchParams.has('q');
  return id === undefined && organised ? listPage(pool, userId, url) : undefined;
}
