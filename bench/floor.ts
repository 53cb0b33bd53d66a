import { hash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import helmet from 'helmet';
import { Pool, types } from 'pg';
import { openEventStream } from './floor-events';
import { organisingRoute, toWire } from './floor-organising';
import { VerifiedTokens } from './tokens';

/**
 * The benchmark's floor: the same routes as the service (specification §3) on `node:http` and `pg`
 * alone, with no framework and no ORM. It checks the same HS256 token, runs the service's own SQL
 * and answers with the same JSON, status codes and headers, so that it shows what this hardware
 * allows with this SQL; the service is measured as a ratio to it.
 *
 * It takes every lever the service takes that a careful hand-written service would: the very
 * statements the service sends (read from docs/sql/tasks.sql, which a test keeps equal to them),
 * so timestamps are formatted by PostgreSQL and trashed tasks are left out as there; named
 * prepared statements where the service prepares them (DATABASE_PREPARED_STATEMENTS, default on);
 * verified tokens remembered until they expire; helmet's headers computed once. The run warns
 * when its answers or its SQL differ from the service's (bench/parity.ts).
 *
 * Environment: DATABASE_URL, AUTH_JWT_SECRET, PORT, DATABASE_POOL_MAX (10),
 * DATABASE_PREPARED_STATEMENTS (true), PAGE_MAX_BYTES (1 MiB), FLOOR_SQL_FILE (docs/sql/tasks.sql).
 */
const databaseUrl = process.env.DATABASE_URL;
const secret = process.env.AUTH_JWT_SECRET;
if (!databaseUrl || !secret) {
  process.stderr.write('floor: DATABASE_URL and AUTH_JWT_SECRET are required\n');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3100);
const prepareStatements = !['false', '0'].includes(
  (process.env.DATABASE_PREPARED_STATEMENTS ?? 'true').trim().toLowerCase(),
);
const maxPageBytes = Number(process.env.PAGE_MAX_BYTES ?? 1024 * 1024);
const pool = new Pool({
  connectionString: databaseUrl,
  max: Number(process.env.DATABASE_POOL_MAX ?? 10),
  application_name: 'tasks-bench-floor',
  // As the service: a `date` stays PostgreSQL's text ("2025-01-31").
  types: {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === types.builtins.DATE && format !== 'binary'
        ? (value: string) => value
        : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
  },
});
const tokens = new VerifiedTokens(secret);

interface Statement {
  /** Its name when prepared: the statement and a hash of its text, as the service names it. */
  name: string;
  text: string;
  /** Parameter names in the order of `$1, $2, …`. */
  order: string[];
  prepared: boolean;
}

// The service plans a filtered list with each call's values; the unfiltered one (tasks.listAll)
// is prepared (src/tasks/task-list.statements.ts).
const UNPREPARED = new Set(['tasks.list']);

/**
 * The service's statements as docs/sql/tasks.sql records them, by heading ("tasks.findOne",
 * "tasks.update checked=false"): each heading, its `-- parameters:` line, then the text and `;`.
 */
function readStatements(file: string): Map<string, Statement> {
  const source = readFileSync(file, 'utf8');
  const headings = [...source.matchAll(/^-- (\S+(?: \S+=\S+)*)\n-- parameters: (.*)\n/gm)];
  const statements = new Map<string, Statement>();
  headings.forEach((heading, index) => {
    const from = (heading.index as number) + heading[0].length;
    const to = headings[index + 1]?.index ?? source.length;
    const text = source.slice(from, to).replace(/;\n+$/, '');
    const operation = heading[1].split(' ')[0];
    statements.set(heading[1], {
      name: `${operation}:${hash('sha256', text, 'base64url').slice(0, 16)}`,
      text,
      order: heading[2] === '' ? [] : heading[2].split(', ').map((entry) => entry.split(' ')[1]),
      prepared: !UNPREPARED.has(operation),
    });
  });
  return statements;
}

const SQL = readStatements(resolve(process.env.FLOOR_SQL_FILE ?? 'docs/sql/tasks.sql'));
const statement = (heading: string): Statement => {
  const found = SQL.get(heading);
  if (!found) throw new Error(`floor: no statement "${heading}" in the SQL file`);
  return found;
};
const FIND_ONE = statement('tasks.findOne');
const LIST_FIRST = statement('tasks.listAll sort=-created_at resumed=false');
const LIST_AFTER = statement('tasks.listAll sort=-created_at resumed=true');
const CREATE = statement('tasks.create');
const UPDATE = statement('tasks.update checked=false');
const TOGGLE = statement('tasks.toggleCompleted checked=false');
const TRASH = statement('tasks.trash checked=false');

/** Runs a statement with its parameters by name; an absent one is bound as NULL. */
async function rows<Row>(
  { name, text, order, prepared }: Statement,
  values: Record<string, unknown>,
): Promise<Row[]> {
  const result = await pool.query({
    name: prepareStatements && prepared ? name : undefined,
    text,
    values: order.map((parameter) => values[parameter]),
  });
  return result.rows as Row[];
}

/** A task row as the service's statements select it (camelCase aliases, timestamps as text). */
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
  version: number;
  createdAt: string;
  updatedAt: string;
  remindAt: string | null;
}

/** helmet's headers for the service's options, computed once: none of them varies per request. */
function securityHeaders(): string[] {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number) =>
      headers.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  };
  helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })(
    {} as IncomingMessage,
    recorder as unknown as ServerResponse,
    (error?: unknown) => {
      if (error) throw error;
    },
  );
  return [...headers].flat();
}
/** Every /api response's constant headers, as [name, value, name, value, …]. */
const API_HEADERS = [...securityHeaders(), 'cache-control', 'private, no-cache'];
const JSON_TYPE = 'application/json; charset=utf-8';

// A caller's id is echoed only when it is short and plain, as the service does.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const requestId = (request: IncomingMessage): string => {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
};

function send(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: string[] = [],
): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, [
    ...API_HEADERS,
    'x-request-id',
    requestId(request),
    'content-type',
    status >= 400 ? 'application/problem+json' : JSON_TYPE,
    'content-length',
    String(Buffer.byteLength(payload)),
    ...headers,
  ]);
  response.end(payload);
}

const problem = (
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  code: string,
): void => send(request, response, status, { type: 'about:blank', title: code, status, code });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TASKS_PATH = /^\/api\/([^/]+)\/tasks(?:\/([^/]+)(\/complete)?)?$/;
const BODY_LIMIT = 64 * 1024;
const MAX_PAGE_SIZE = 1000;

function readJson(request: IncomingMessage): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT) chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      if (size > BODY_LIMIT) return resolve(null);
      try {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        resolve(body && typeof body === 'object' && !Array.isArray(body) ? (body as never) : null);
      } catch {
        resolve(null);
      }
    });
  });
}

/** The fields the floor writes, in the order of the service's `insertable` and `updatable`. */
const WRITABLE = ['title', 'description', 'completed'] as const;
const valid: Record<(typeof WRITABLE)[number], (value: unknown) => boolean> = {
  title: (value) => typeof value === 'string' && value.trim() !== '' && value.length <= 255,
  description: (value) => value === null || (typeof value === 'string' && value.length <= 10_000),
  completed: (value) => typeof value === 'boolean',
};

/**
 * A create or update body: the fields sent, if each is valid and no other is sent (the floor
 * writes only the fields the benchmark sends), else null.
 */
function fieldsOf(body: Record<string, unknown> | null): string[] | null {
  if (!body || Object.keys(body).some((key) => !(WRITABLE as readonly string[]).includes(key))) {
    return null;
  }
  const sent = WRITABLE.filter((field) => body[field] !== undefined);
  return sent.every((field) => valid[field](body[field])) ? sent : null;
}

/** The keyset cursor of the default order (`-created_at`, ties by id): its last row's key. */
const encodeCursor = (task: TaskRow): string =>
  Buffer.from(JSON.stringify([task.createdAt, task.id])).toString('base64url');
const decodeCursor = (cursor: string): [string, string] | null => {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    return Array.isArray(value) &&
      value.length === 2 &&
      ISO_TIMESTAMP.test(String(value[0])) &&
      UUID.test(String(value[1]))
      ? [String(value[0]), String(value[1])]
      : null;
  } catch {
    return null;
  }
};

type PagedRow = TaskRow & { page_bytes: string | number };

async function list(
  request: IncomingMessage,
  response: ServerResponse,
  userId: string,
  url: URL,
): Promise<void> {
  const limit = Number(url.searchParams.get('limit') ?? MAX_PAGE_SIZE);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    return problem(request, response, 400, 'VALIDATION_ERROR');
  }
  const cursor = url.searchParams.get('cursor');
  const after = cursor === null ? null : decodeCursor(cursor);
  if (cursor !== null && !after) return problem(request, response, 400, 'VALIDATION_ERROR');
  // No filter: the statement without any; the page is `limit` rows within the byte budget.
  const found = await rows<PagedRow>(after ? LIST_AFTER : LIST_FIRST, {
    userId,
    after0: after?.[0],
    afterId: after?.[1],
    limit: limit + 1,
    maxBytes: maxPageBytes,
  });
  const page: TaskRow[] = [];
  for (const row of found) {
    if (page.length === limit || (page.length > 0 && Number(row.page_bytes) > maxPageBytes)) break;
    page.push(row);
  }
  const headers: string[] = [];
  if (found.length > page.length) {
    const next = new URLSearchParams({
      limit: String(limit),
      cursor: encodeCursor(page[page.length - 1]),
    });
    headers.push('link', `</api/${encodeURIComponent(userId)}/tasks?${next}>; rel="next"`);
  }
  send(request, response, 200, page.map(toWire), headers);
}

const taskAnswer = (
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  task: TaskRow | undefined,
  headers: string[] = [],
): void =>
  task
    ? send(request, response, status, toWire(task), [...headers, 'etag', `"${task.version}"`])
    : problem(request, response, 404, 'TASK_NOT_FOUND');

async function create(
  request: IncomingMessage,
  response: ServerResponse,
  userId: string,
): Promise<void> {
  const body = await readJson(request);
  const fieldsSent = fieldsOf(body);
  if (!body || !fieldsSent?.includes('title')) {
    return problem(request, response, 400, 'VALIDATION_ERROR');
  }
  const [task] = await rows<TaskRow>(CREATE, { ...body, userId, fieldsSent });
  taskAnswer(request, response, 201, task, [
    'location',
    `/api/${encodeURIComponent(userId)}/tasks/${task.id}`,
  ]);
}

async function update(
  request: IncomingMessage,
  response: ServerResponse,
  userId: string,
  id: string,
): Promise<void> {
  const body = await readJson(request);
  const fieldsSent = fieldsOf(body);
  if (!body || !fieldsSent || fieldsSent.length === 0) {
    return problem(request, response, 400, 'VALIDATION_ERROR');
  }
  const [task] = await rows<TaskRow>(UPDATE, { ...body, userId, id, fieldsSent });
  taskAnswer(request, response, 200, task);
}

async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://floor');
  if (url.pathname === '/health/live' || url.pathname === '/health') {
    return send(request, response, 200, { status: 'ok' });
  }
  if (url.pathname.endsWith('/events')) return openEventStream(pool, request, response, url);
  const match = TASKS_PATH.exec(url.pathname);
  if (!match) return problem(request, response, 404, 'NOT_FOUND');
  const userId = decodeURIComponent(match[1]);
  const id = match[2];
  const complete = match[3] !== undefined;

  const authorization = request.headers.authorization;
  if (!authorization?.startsWith('Bearer ')) {
    return problem(request, response, 401, 'MISSING_TOKEN');
  }
  const token = tokens.verify(authorization.slice(7));
  if (!token) return problem(request, response, 401, 'INVALID_TOKEN');
  if (token.sub !== userId) return problem(request, response, 403, 'FORBIDDEN');

  const method = request.method;
  const organised = organisingRoute(pool, method, userId, id, url);
  if (organised) {
    return organised.then((it) =>
      send(request, response, it.status, it.body, Object.entries(it.headers ?? {}).flat()),
    );
  }
  if (id === undefined) {
    if (method === 'GET') return list(request, response, userId, url);
    if (method === 'POST') return create(request, response, userId);
    return problem(request, response, 404, 'NOT_FOUND');
  }
  if (!UUID.test(id)) return problem(request, response, 400, 'INVALID_UUID');
  if (complete) {
    if (method !== 'PATCH') return problem(request, response, 404, 'NOT_FOUND');
    const [task] = await rows<TaskRow>(TOGGLE, { userId, id });
    return taskAnswer(request, response, 200, task);
  }
  if (method === 'GET') {
    const [task] = await rows<TaskRow>(FIND_ONE, { userId, id });
    return taskAnswer(request, response, 200, task);
  }
  if (method === 'PUT') return update(request, response, userId, id);
  if (method === 'DELETE') {
    // A delete moves the task to the trash, as the service's does.
    const [trashed] = await rows(TRASH, { userId, id });
    if (!trashed) return problem(request, response, 404, 'TASK_NOT_FOUND');
    response.writeHead(204, [...API_HEADERS, 'x-request-id', requestId(request)]);
    return void response.end();
  }
  return problem(request, response, 404, 'NOT_FOUND');
}

const server = createServer((request, response) => {
  route(request, response).catch((error: unknown) => {
    process.stderr.write(`floor: ${(error as Error).message}\n`);
    if (!response.headersSent) problem(request, response, 500, 'INTERNAL_ERROR');
    else response.destroy();
  });
});
server.keepAliveTimeout = 72_000;

const stop = (): void => {
  server.close();
  server.closeIdleConnections();
  void pool.end().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`floor listening on http://127.0.0.1:${port}\n`);
});
