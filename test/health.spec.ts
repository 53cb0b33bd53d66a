import request from 'supertest';
import { ShutdownService } from '../src/health/shutdown.service';
import { startTestApp, TestApp } from './support/test-app';

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
