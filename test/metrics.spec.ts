import request from 'supertest';
import { ReminderJob } from '../src/events/reminder-job';
import { MaintenanceService } from '../src/sync/maintenance.service';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

/** The value of one sample of the exposition text, e.g. `name{a="b"}`. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

// specification §3: GET /metrics in Prometheus text format.
describe('metrics', () => {
  let testApp: TestApp;
  const server = () => testApp.app.getHttpServer();
  const scrape = async (app = testApp) => {
    const response = await request(app.app.getHttpServer()).get('/metrics').expect(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return response.text;
  };

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(() => testApp.close());

  it('counts requests and their latency by method, route template and status', async () => {
    const auth = bearer(await signToken('alice'));
    for (let i = 0; i < 3; i++)
      await request(server()).get('/api/alice/tasks').set(auth).expect(200);
    await request(server())
      .get('/api/alice/tasks/0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21')
      .set(auth)
      .expect(404);
    await request(server()).get('/no/such/route').expect(404);
    await request(server()).get('/no/other/route').expect(404);

    const text = await scrape();
    const labels = (route: string, status: number) =>
      `{method="GET",route="${route}",status_code="${status}"}`;
    expect(sample(text, `http_requests_total${labels('/api/:userId/tasks', 200)}`)).toBe(3);
    expect(sample(text, `http_requests_total${labels('/api/:userId/tasks/:id', 404)}`)).toBe(1);
    // Unknown paths share one label value, so a scanner cannot blow up the series count.
    expect(sample(text, `http_requests_total${labels('unmatched', 404)}`)).toBe(2);
    expect(text).not.toMatch(/route="\/no\//);
    expect(
      sample(text, `http_request_duration_seconds_count${labels('/api/:userId/tasks', 200)}`),
    ).toBe(3);
    const infBucket = `http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/:userId/tasks",status_code="200"}`;
    expect(sample(text, infBucket)).toBe(3);
    expect(
      sample(text, `http_request_duration_seconds_sum${labels('/api/:userId/tasks', 200)}`),
    ).toBeGreaterThan(0);
  });

  it('reports the database pool: in use, idle and waiting', async () => {
    // The jobs on a timer (the reminder claim runs every second) take a connection for their
    // statement; stopped (waiting for a run in progress), nothing but this test uses the pool.
    await testApp.app.get(ReminderJob).onModuleDestroy();
    await testApp.app.get(MaintenanceService).onModuleDestroy();
    const text = await scrape();
    const inUse = sample(text, 'db_pool_connections_in_use');
    const idle = sample(text, 'db_pool_connections_idle');
    const waiting = sample(text, 'db_pool_requests_waiting');
    // The requests above left their connection idle in the pool; nothing is running now.
    expect({ inUse, waiting }).toEqual({ inUse: 0, waiting: 0 });
    expect(idle).toBeGreaterThanOrEqual(1);
    expect(text).toContain('# TYPE db_pool_connections_in_use gauge');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('keeps a registry per application instance', async () => {
    const other = await startTestApp({}, testApp.database);
    try {
      await request(other.app.getHttpServer()).get('/health/live').expect(200);
      const text = await scrape(other);
      expect(text).not.toContain('route="/api/:userId/tasks"');
      expect(
        sample(text, 'http_requests_total{method="GET",route="/health/live",status_code="200"}'),
      ).toBe(1);
    } finally {
      await other.close();
    }
  });
});
