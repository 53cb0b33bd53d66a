import { Client } from 'pg';
import { bringDatabaseBack, sleep, takeDatabaseAway } from './faults/fault-support';
import { type AppProcess, listeningUrl, spawnApp, spawnServingApp } from './support/app-process';
import { createTestDatabase } from './support/test-database';
import { signToken } from './support/tokens';
import { TEST_JWT_SECRET } from './support/test-app';

// A process that compiles TypeScript as it starts: far slower than an in-process app.
const PROCESS_TIMEOUT_MS = 60_000;

// specification §6: a JSON log line per request with the route template and the caller's id, and
// never the Authorization header. Seen from outside the process, as an operator sees it.
describe('request logs', () => {
  it(
    'carry the request id, route template, status and caller, and no token',
    async () => {
      const database = await createTestDatabase();
      const app = spawnServingApp(database.url, {
        LOG_LEVEL: 'info',
      });
      try {
        const url = await listeningUrl(app);
        const token = await signToken('alice');
        const response = await fetch(`${url}/api/alice/tasks?limit=5`, {
          headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': 'log-test-1' },
        });
        expect(response.status).toBe(200);
        const text = await app.waitForLine(/"log-test-1"/);
        // One of each key: pino-http would otherwise repeat them in the final line.
        expect(text.match(/"route":/g)).toHaveLength(1);
        expect(text.match(/"userId":/g)).toHaveLength(1);
        const line = JSON.parse(text) as Record<string, unknown>;
        expect(line).toMatchObject({
          route: '/api/:userId/tasks',
          userId: 'alice',
          req: { id: 'log-test-1', method: 'GET', url: '/api/alice/tasks?limit=5' },
          res: { statusCode: 200 },
        });
        expect(typeof line.responseTime).toBe('number');

        await fetch(`${url}/nowhere`, { headers: { 'X-Request-Id': 'log-test-2' } });
        const unmatched = JSON.parse(await app.waitForLine(/"log-test-2"/)) as Record<
          string,
          unknown
        >;
        expect(unmatched).toMatchObject({ route: 'unmatched', res: { statusCode: 404 } });
        expect(app.lines.join('\n')).not.toContain(token);
      } finally {
        app.child.kill('SIGINT');
        await app.exit;
        await database.drop();
      }
    },
    PROCESS_TIMEOUT_MS,
  );

  it(
    'log a 5xx once: an unexpected error at error with its own stack, an expected 503 as a warning without one',
    async () => {
      const database = await createTestDatabase();
      const app = spawnApp({
        NODE_ENV: 'development',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        DATABASE_CONNECT_TIMEOUT_MS: '1000',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '10000',
      });
      const token = await signToken('alice');
      const call = (url: string, requestId: string): Promise<Response> =>
        fetch(url, { headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': requestId } });
      try {
        const url = await listeningUrl(app);

        // A bug: the table is gone (42P01), which is no outage.
        const client = new Client({ connectionString: database.url });
        await client.connect();
        await client.query('ALTER TABLE tasks RENAME TO tasks_elsewhere');
        expect((await call(`${url}/api/alice/tasks`, 'log-bug')).status).toBe(500);
        await client.query('ALTER TABLE tasks_elsewhere RENAME TO tasks');
        await client.end();
        const bug = await onlyLineOf(app, 'log-bug');
        expect(bug).toMatchObject({ level: 50, msg: 'request errored', res: { statusCode: 500 } });
        expect(bug.err).toMatchObject({ stack: expect.stringContaining('TasksController.list') });

        // An outage: expected in operation, a warning with what the driver said, and no stack.
        await takeDatabaseAway(database.name);
        expect((await call(`${url}/api/alice/tasks`, 'log-outage')).status).toBe(503);
        await bringDatabaseBack(database.name);
        const outage = await onlyLineOf(app, 'log-outage');
        expect(outage).toMatchObject({
          level: 40,
          res: { statusCode: 503 },
          detail: expect.stringMatching(/database is unavailable/),
          error: expect.any(String),
        });
        expect(outage).not.toHaveProperty('err');

        // Readiness while shutting down: 503 by design, a warning without a stack.
        app.child.kill('SIGTERM');
        await app.waitForLine(/readiness is now 503/);
        expect((await call(`${url}/health/ready`, 'log-ready')).status).toBe(503);
        const readiness = await onlyLineOf(app, 'log-ready');
        expect(readiness).toMatchObject({ level: 40, res: { statusCode: 503 } });
        expect(readiness).not.toHaveProperty('err');

        expect(app.lines.filter((line) => line.includes('"stack"'))).toHaveLength(1);
      } finally {
        app.child.kill('SIGINT');
        await app.exit;
        await database.drop();
      }
    },
    PROCESS_TIMEOUT_MS,
  );

  it(
    "start-up says where the service, its API docs and a development token are, without Nest's per-route lines",
    async () => {
      const database = await createTestDatabase();
      const app = spawnApp({
        NODE_ENV: 'development',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'info',
      });
      try {
        const url = await listeningUrl(app);
        const hint = await app.waitForLine(/npm run -s token -- <userId>/);
        expect(hint).toContain(`${url}/docs`);
        const listening = JSON.parse(
          app.lines.find((line) => line.includes('tasks service listening')) as string,
        ) as Record<string, unknown>;
        expect(listening).toMatchObject({ docs: `${url}/docs` });
        expect(listening.msg).toContain(`${url}/docs`);
        const startUp = app.lines.filter((line) => line.startsWith('{'));
        expect(startUp.join('\n')).not.toMatch(/InstanceLoader|RoutesResolver|RouterExplorer/);
        expect(startUp.length).toBeLessThanOrEqual(10);
      } finally {
        app.child.kill('SIGINT');
        await app.exit;
        await database.drop();
      }
    },
    PROCESS_TIMEOUT_MS,
  );
});

/** The one log line of a request; fails if there is none or more than one. */
async function onlyLineOf(app: AppProcess, requestId: string): Promise<Record<string, unknown>> {
  await app.waitForLine(new RegExp(`"${requestId}"`));
  // Anything logged twice would be written within moments of the first line.
  await sleep(300);
  const lines = app.lines.filter((line) => line.includes(`"${requestId}"`));
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}
