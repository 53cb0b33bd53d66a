import { request } from 'node:http';
import { startTestApp } from '../support/test-app';
import { listeningUrl, spawnServingApp } from '../support/app-process';
import { createTestDatabase } from '../support/test-database';
import { inFlightLimit } from '../../src/health/request-shedding';
import { authHeader, inspect, quantile, reportFigures, round, sleep } from './fault-support';

const QUEUED_REQUESTS = 1000;
const POOL_MAX = 2;
const CONNECT_TIMEOUT_MS = 5000;
/** The Kubernetes liveness probe's timeout (deploy/k8s/deployment.yaml). */
const LIVENESS_TIMEOUT_MS = 2000;

/** One GET on a connection of its own; resolves with the status and how long it took. */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const sent = request(url, { agent: false, headers }, (response) => {
      response.resume();
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }),
      );
    });
    sent.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    sent.end();
  });
}

// specification §6: liveness says whether the process answers, nothing else. With the pool's
// queue full (every connection stuck behind a lock, a thousand requests waiting for one), the
// probe must still answer at once, or the orchestrator restarts a healthy pod and loses the queue.
describe('liveness with a thousand requests queued on the pool', () => {
  it('answers /health/live well inside the probe timeout', async () => {
    const database = await createTestDatabase();
    const app = spawnServingApp(database.url, {
      DATABASE_POOL_MAX: String(POOL_MAX),
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'info',
    });
    const locker = await inspect(database.url);
    try {
      const url = await listeningUrl(app);
      const { authorization } = await authHeader('queued-user');
      // Every statement on `tasks` now waits for this transaction.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE');

      const queued = Array.from({ length: QUEUED_REQUESTS }, () =>
        get(`${url}/api/queued-user/tasks`, { authorization }),
      );
      // Measured from when the requests have arrived and wait (or were refused): a thousand
      // requests sent at once by the test are a burst of work on both sides, whatever the server
      // does with them.
      const arrival = await get(`${url}/health/live`);
      const probes: number[] = [];
      const loadStarted = performance.now();
      const slowProbes: number[][] = [];
      let loading = true;
      const probing = (async () => {
        while (loading) {
          const { status, ms } = await get(`${url}/health/live`);
          expect(status).toBe(200);
          probes.push(ms);
          if (ms > 100) slowProbes.push([round(performance.now() - ms - loadStarted), round(ms)]);
          await sleep(50);
        }
      })();
      const answers = await Promise.all(queued);
      loading = false;
      await probing;
      await locker.query('ROLLBACK');

      const waitedForConnection = (): number =>
        app.lines
          .filter((line) => line.includes('"url":"/api/queued-user/tasks"'))
          .map((line) => (JSON.parse(line) as { responseTime?: number }).responseTime ?? 0)
          .filter((responseTime) => responseTime >= CONNECT_TIMEOUT_MS).length;
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const eventLoopLagMax = Number(
        /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1],
      );
      const statuses = answers.reduce<Record<string, number>>((counts, { status }) => {
        counts[status] = (counts[status] ?? 0) + 1;
        return counts;
      }, {});
      reportFigures('overload-liveness', {
        queuedRequests: QUEUED_REQUESTS,
        liveDuringArrivalMs: round(arrival.ms),
        answers: statuses,
        slowestQueuedMs: round(Math.max(...answers.map(({ ms }) => ms))),
        waitedForConnection: waitedForConnection(),
        probes: probes.length,
        liveP50Ms: round(quantile(probes, 0.5)),
        liveP99Ms: round(quantile(probes, 0.99)),
        liveMaxMs: round(Math.max(...probes)),
        eventLoopLagMaxMs: round(eventLoopLagMax * 1000),
        slowProbes,
      });
      // Queued requests were answered (served or refused with 503), none left hanging; and at
      // most the queue's bound waited for a connection: the rest were refused on arrival rather
      // than all at once when the connection timeout passed.
      expect(answers.filter(({ status }) => status !== 200 && status !== 503)).toEqual([]);
      // (As the server timed them, from its request log: on a loaded machine the client's own
      // clock also counts the time it took to send a thousand requests.)
      expect(waitedForConnection()).toBeLessThanOrEqual(
        inFlightLimit(POOL_MAX, CONNECT_TIMEOUT_MS),
      );
      expect(probes.length).toBeGreaterThan(10);
      // Half the probe timeout: generous for a loaded test machine, far from what it was.
      expect(Math.max(...probes)).toBeLessThan(LIVENESS_TIMEOUT_MS / 2);
    } finally {
      app.child.kill('SIGKILL');
      await locker.end();
      await database.drop();
    }
  }, 90_000);
});

describe('requests beyond what the pool can serve in time', () => {
  it('are refused at once with 503 SERVICE_OVERLOADED, counted apart from the outage 503s of those that waited', async () => {
    const testApp = await startTestApp({
      DATABASE_POOL_MAX: '1',
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
    const locker = await inspect(testApp.database.url);
    try {
      const limit = inFlightLimit(1, 1000);
      const beyond = 20;
      const headers = await authHeader('shed-user');
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE');
      const fastify = testApp.app.getHttpAdapter().getInstance();
      const answers = await Promise.all(
        Array.from({ length: limit + beyond }, () =>
          fastify.inject({ method: 'GET', url: '/api/shed-user/tasks', headers }),
        ),
      );
      await locker.query('ROLLBACK');
      for (const response of answers) {
        expect(response.statusCode).toBe(503);
        expect(response.headers['retry-after']).toBeDefined();
        expect(response.headers['content-type']).toContain('application/problem+json');
      }
      const codes = answers.map((response) => (response.json() as { code: string }).code);
      // The bound waited for the database, and were answered as its outage when their wait
      // ended; the rest were refused on arrival as an overload.
      expect(codes.filter((code) => code === 'SERVICE_UNAVAILABLE')).toHaveLength(limit);
      expect(codes.filter((code) => code === 'SERVICE_OVERLOADED')).toHaveLength(beyond);
      const overloaded = answers.find(
        (response) => (response.json() as { code: string }).code === 'SERVICE_OVERLOADED',
      );
      expect((overloaded?.json() as { detail: string }).detail).not.toMatch(/unavailable/i);
      const metrics = await fastify.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(new RegExp(`^http_requests_shed_total ${beyond}$`, 'm'));
      // And once the database is free again, requests are served.
      const after = await fastify.inject({ method: 'GET', url: '/api/shed-user/tasks', headers });
      expect(after.statusCode).toBe(200);
    } finally {
      await locker.end();
      await testApp.close();
    }
  }, 30_000);
});
