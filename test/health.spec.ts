import request from 'supertest';
import { ShutdownService } from '../src/health/shutdown.service';
import { startTestApp, TestApp } from './support/test-app';
import { adminQuery, TEST_ADMIN_URL_VAR } from './support/test-database';
import { loadSlack } from './support/machine-load';

describe('health routes', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(() => testApp.close());

  const server = () => testApp.app.getHttpServer();

  it('GET /health is 200 with the database up, with a request id', async () => {
    const response = await request(server()).get('/health').expect(200);
    expect(response.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, lifecycle: { status: 'up' } },
    });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const echoed = await request(server()).get('/health/live').set('X-Request-Id', 'abc-123');
    expect(echoed.headers['x-request-id']).toBe('abc-123');
    const replaced = await request(server())
      .get('/health/live')
      .set('X-Request-Id', 'bad id with spaces');
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('GET /health/ready is the same check, /health/live checks nothing', async () => {
    await request(server()).get('/health/ready').expect(200);
    const live = await request(server()).get('/health/live').expect(200);
    expect(live.body).toEqual({ status: 'ok', info: {}, error: {}, details: {} });
  });

  it('turns readiness to 503 once shutdown begins, while liveness stays 200', async () => {
    testApp.app.get(ShutdownService).beginShutdown('SIGTERM', 1000);
    const response = await request(server()).get('/health').expect(503);
    expect(response.body.error).toMatchObject({ lifecycle: { status: 'down' } });
    await request(server()).get('/health/ready').expect(503);
    await request(server()).get('/health/live').expect(200);
  });
});

describe('health with the database unreachable', () => {
  let testApp: TestApp;
  const admin = (sql: string) =>
    adminQuery(
      process.env[TEST_ADMIN_URL_VAR] as string,
      sql.replace(/\$db/g, testApp.database.name),
    );

  beforeAll(async () => {
    testApp = await startTestApp({ DATABASE_CONNECT_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    await admin('ALTER DATABASE $db ALLOW_CONNECTIONS true');
    await testApp.close();
  });

  it('answers 503 while the database refuses connections, and 200 again once it is back', async () => {
    const server = testApp.app.getHttpServer();
    await request(server).get('/health').expect(200);

    await admin('ALTER DATABASE $db ALLOW_CONNECTIONS false');
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db'`);
    const started = performance.now();
    const down = await request(server).get('/health').expect(503);
    // Refused at once: answered without waiting out the connect timeout (1 s here) twice over.
    expect(performance.now() - started).toBeLessThan(1000 + loadSlack(2000));
    expect(down.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    // Up or down only: no driver message, host, port or database name.
    expect(down.body.error.database).toEqual({ status: 'down' });
    expect(down.text).not.toMatch(/127\.0\.0\.1|localhost|ECONN|accepting|tasks_test|:\d{4,5}/);
    await request(server).get('/health/live').expect(200);

    await admin('ALTER DATABASE $db ALLOW_CONNECTIONS true');
    await request(server).get('/health').expect(200);
  });
});
