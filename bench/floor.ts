import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { openEventStream } from './floor-events';
import { organisingRoute } from './floor-organising';
import { verifyToken } from './tokens';

/**
 * The benchmark's floor: the same routes as the service (specification §3) on `node:http` and `pg`
 * alone, with no framework and no ORM. It checks the same HS256 token, runs the same
 * owner-scoped SQL and answers with the same JSON shape and success status codes, so that it
 * shows what this hardware allows; the service is measured as a ratio to it.
 *
 * Environment: DATABASE_URL, AUTH_JWT_SECRET, PORT, DATABASE_POOL_MAX (10).
 */
const databaseUrl = process.env.DATABASE_URL;
const secret = process.env.AUTH_JWT_SECRET;
if (!databaseUrl || !secret) {
  process.stderr.write('floor: DATABASE_URL and AUTH_JWT_SECRET are required\n');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3100);
const pool = new Pool({
  connectionString: databaseUrl,
  max: Number(process.env.DATABASE_POOL_MAX ?? 10),
  application_name: 'tasks-bench-floor',
});

const COLUMNS =
  'id, user_id, title, description, completed, list_id, version, created_at, updated_at';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TASKS_PATH = /^\/api\/([^/]+)\/tasks(?:\/([^/]+)(\/complete)?)?$/;
const BODY_LIMIT = 64 * 1024;

interface TaskRow {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  list_id: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const toWire = (row: TaskRow) => ({
  id: row.id,
  user_id: row.user_id,
  title: row.title,
  description: row.description,
  completed: row.completed,
  list_id: row.list_id,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {
    'content-type': status >= 400 ? 'application/problem+json' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'x-request-id': randomUUID(),
    ...headers,
  });
  response.end(payload);
}

const problem = (response: ServerResponse, status: number, code: string): void =>
  send(response, status, { type: 'about:blank', title: code, status, code });

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

const validTitle = (value: unknown): value is string =>
  typeof value === 'string' && value.trim() !== '' && value.length <= 255;
const validDescription = (value: unknown): value is string | null =>
  value === null || (typeof value === 'string' && value.length <= 10_000);

/** The keyset cursor of the default order (`-created_at`, ties by id): its last row's key. */
const encodeCursor = (row: TaskRow): string =>
  Buffer.from(JSON.stringify([row.created_at.toISOString(), row.id])).toString('base64url');
const decodeCursor = (cursor: string): [string, string] | null => {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    return Array.isArray(value) && value.length === 2 && UUID.test(String(value[1]))
      ? [String(value[0]), String(value[1])]
      : null;
  } catch {
    return null;
  }
};

async function list(response: ServerResponse, userId: string, url: URL): Promise<void> {
  const limit = Number(url.searchParams.get('limit') ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    return problem(response, 400, 'VALIDATION_ERROR');
  }
  const cursor = url.searchParams.get('cursor');
  const after = cursor === null ? null : decodeCursor(cursor);
  if (cursor !== null && !after) return problem(response, 400, 'VALIDATION_ERROR');
  const { rows } = after
    ? await pool.query<TaskRow>(
        `SELECT ${COLUMNS} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL` +
          ` AND (created_at, id) < ($2, $3)` +
          ` ORDER BY created_at DESC, id DESC LIMIT $4`,
        [userId, after[0], after[1], limit + 1],
      )
    : await pool.query<TaskRow>(
        `SELECT ${COLUMNS} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL` +
          ` ORDER BY created_at DESC, id DESC LIMIT $2`,
        [userId, limit + 1],
      );
  const headers: Record<string, string> = {};
  if (rows.length > limit) {
    const next = new URLSearchParams({
      limit: String(limit),
      cursor: encodeCursor(rows[limit - 1]),
    });
    headers.link = `</api/${encodeURIComponent(userId)}/tasks?${next}>; rel="next"`;
  }
  send(response, 200, rows.slice(0, limit).map(toWire), headers);
}

async function create(
  request: IncomingMessage,
  response: ServerResponse,
  userId: string,
): Promise<void> {
  const body = await readJson(request);
  if (
    !body ||
    !validTitle(body.title) ||
    (body.description !== undefined && !validDescription(body.description)) ||
    (body.completed !== undefined && typeof body.completed !== 'boolean')
  ) {
    return problem(response, 400, 'VALIDATION_ERROR');
  }
  const { rows } = await pool.query<TaskRow>(
    `INSERT INTO tasks (user_id, title, description, completed) VALUES ($1, $2, $3, $4)` +
      ` RETURNING ${COLUMNS}`,
    [userId, body.title, body.description ?? null, body.completed ?? false],
  );
  send(response, 201, toWire(rows[0]), {
    location: `/api/${encodeURIComponent(userId)}/tasks/${rows[0].id}`,
    etag: `"${rows[0].version}"`,
  });
}

async function update(
  request: IncomingMessage,
  response: ServerResponse,
  userId: string,
  id: string,
): Promise<void> {
  const body = await readJson(request);
  if (!body) return problem(response, 400, 'VALIDATION_ERROR');
  const sets: string[] = [];
  const values: unknown[] = [id, userId];
  if (body.title !== undefined) {
    if (!validTitle(body.title)) return problem(response, 400, 'VALIDATION_ERROR');
    values.push(body.title);
    sets.push(`title = $${values.length}`);
  }
  if (body.description !== undefined) {
    if (!validDescription(body.description)) return problem(response, 400, 'VALIDATION_ERROR');
    values.push(body.description);
    sets.push(`description = $${values.length}`);
  }
  if (body.completed !== undefined) {
    if (typeof body.completed !== 'boolean') return problem(response, 400, 'VALIDATION_ERROR');
    values.push(body.completed);
    sets.push(`completed = $${values.length}`);
  }
  if (sets.length === 0) return problem(response, 400, 'VALIDATION_ERROR');
  await write(response, `${sets.join(', ')}, version = version + 1`, values);
}

/** One atomic `UPDATE … WHERE id AND user_id RETURNING …`, like the repository. */
async function write(response: ServerResponse, sets: string, values: unknown[]): Promise<void> {
  const { rows } = await pool.query<TaskRow>(
    `UPDATE tasks SET ${sets} WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
    values,
  );
  if (rows.length === 0) return problem(response, 404, 'TASK_NOT_FOUND');
  send(response, 200, toWire(rows[0]), { etag: `"${rows[0].version}"` });
}

async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://floor');
  if (url.pathname === '/health/live' || url.pathname === '/health') {
    return send(response, 200, { status: 'ok' });
  }
  if (url.pathname.endsWith('/events')) return openEventStream(pool, request, response, url);
  const match = TASKS_PATH.exec(url.pathname);
  if (!match) return problem(response, 404, 'NOT_FOUND');
  const userId = decodeURIComponent(match[1]);
  const id = match[2];
  const complete = match[3] !== undefined;

  const authorization = request.headers.authorization;
  if (!authorization?.startsWith('Bearer ')) return problem(response, 401, 'MISSING_TOKEN');
  const token = verifyToken(secret as string, authorization.slice(7));
  if (!token) return problem(response, 401, 'INVALID_TOKEN');
  if (token.sub !== userId) return problem(response, 403, 'FORBIDDEN');

  const method = request.method;
  const organised = organisingRoute(pool, method, userId, id, url);
  if (organised) return organised.then((it) => send(response, it.status, it.body, it.headers));
  if (id === undefined) {
    if (method === 'GET') return list(response, userId, url);
    if (method === 'POST') return create(request, response, userId);
    return problem(response, 404, 'NOT_FOUND');
  }
  if (!UUID.test(id)) return problem(response, 400, 'INVALID_UUID');
  if (complete) {
    if (method !== 'PATCH') return problem(response, 404, 'NOT_FOUND');
    return write(response, 'completed = NOT completed, version = version + 1', [id, userId]);
  }
  if (method === 'GET') {
    const { rows } = await pool.query<TaskRow>(
      `SELECT ${COLUMNS} FROM tasks WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL`,
      [userId, id],
    );
    if (rows.length === 0) return problem(response, 404, 'TASK_NOT_FOUND');
    return send(response, 200, toWire(rows[0]), { etag: `"${rows[0].version}"` });
  }
  if (method === 'PUT') return update(request, response, userId, id);
  if (method === 'DELETE') {
    // A delete moves the task to the trash, as the service's does.
    const { rowCount } = await pool.query(
      'UPDATE tasks SET deleted_at = now() WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL',
      [userId, id],
    );
    if (rowCount === 0) return problem(response, 404, 'TASK_NOT_FOUND');
    response.writeHead(204, { 'x-request-id': randomUUID() });
    return void response.end();
  }
  return problem(response, 404, 'NOT_FOUND');
}

const server = createServer((request, response) => {
  route(request, response).catch((error: unknown) => {
    process.stderr.write(`floor: ${(error as Error).message}\n`);
    if (!response.headersSent) problem(response, 500, 'INTERNAL_ERROR');
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
