import { listeningUrl, spawnApp } from './support/app-process';
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
      const app = spawnApp({
        NODE_ENV: 'test',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
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
});
