import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { startTestApp } from '../support/test-app';
import { listeningUrl, spawnServingApp } from '../support/app-process';
import { createTestDatabase } from '../support/test-database';
import { inFlightLimit } from '../../src/health/request-shedding';
import { authHeader, inspect, quantile, reportFigures, round } from './fault-support';

const QUEUED_REQUESTS = 1000;
const POOL_MAX = 2;
const CONNECT_TIMEOUT_MS = 5000;
/** A Kubernetes liveness probe's timeout: a probe not answered within it counts as a failure. */
const PROBE_TIMEOUT_MS = 1000;
/** The load average the measurement is made above; CPU hogs make up what the machine lacks. */
const MIN_LOAD_AVERAGE = 4;
const CPU_HOGS = 4;

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

/**
 * Probes as a kubelet does, on a thread of its own so that the test's own work (sending a
 * thousand requests) does not delay them: a GET on a fresh connection every 50 ms to each URL,
 * given up after the probe timeout (status 0). Posts every probe's URL, status and duration
 * when told to stop.
 */
const PROBER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { request } = require('node:http');
const probes = [];
let running = true;
const probe = (url) =>
  new Promise((done) => {
    const started = performance.now();
    const finish = (status) => {
      probes.push({ url, status, ms: performance.now() - started });
      done();
    };
    const sent = request(url, { agent: false, timeout: workerData.timeoutMs }, (response) => {
      response.resume();
      response.on('end', () => finish(response.statusCode));
    });
    sent.on('timeout', () => sent.destroy(new Error('probe timeout')));
    sent.on('error', () => finish(0));
    sent.end();
  });
const loop = async (url) => {
  while (running) {
    await probe(url);
    await new Promise((wait) => setTimeout(wait, 50));
  }
};
const loops = workerData.urls.map(loop);
parentPort.on('message', async () => {
  running = false;
  await Promise.all(loops);
  parentPort.postMessage(probes);
});
`;

interface Probe {
  url: string;
  status: number;
  ms: number;
}

function startProber(urls: string[]): { stop: () => Promise<Probe[]> } {
  const worker = new Worker(PROBER_SOURCE, {
    eval: true,
    workerData: { urls, timeoutMs: PROBE_TIMEOUT_MS },
  });
  return {
    stop: async () => {
      const probes = new Promise<Probe[]>((resolve) => worker.once('message', resolve));
      worker.postMessage('stop');
      const result = await probes;
      await worker.terminate();
      return result;
    },
  };
}

/** Busy processes, so that the run queue is longer than the machine has cores. */
const startCpuHogs = (count: number): ChildProcess[] =>
  Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );

// specification §6: liveness says whether the process answers, nothing else. With the pool's
// queue full (every connection stuck behind a lock, a thousand requests waiting for one) on a
// loaded machine, the probe on LIVENESS_PORT must still answer, or the orchestrator restarts a
// healthy pod and loses the queue.
describe('liveness with a thousand requests queued on the pool', () => {
  it('answers every probe on LIVENESS_PORT within the probe timeout, at a load average above 4', async () => {
    const database = await createTestDatabase();
    const app = spawnServingApp(database.url, {
      DATABASE_POOL_MAX: String(POOL_MAX),
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: '5000',
      LIVENESS_PORT: '0',
      LOG_LEVEL: 'info',
    });
    const locker = await inspect(database.url);
    const hogs = loadavg()[0] > MIN_LOAD_AVERAGE ? [] : startCpuHogs(CPU_HOGS);
    try {
      // Starting under ts-node on a loaded machine takes a while.
      const url = await listeningUrl(app, 90_000);
      const livenessLine = await app.waitForLine(/liveness probes answered on/);
      const livenessUrl = /(http:\/\/\S+\/health\/live)/.exec(livenessLine)?.[1] as string;
      expect(livenessUrl).toBeDefined();
      const { authorization } = await authHeader('queued-user');
      // Every statement on `tasks` now waits for this transaction.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE');

      const prober = startProber([livenessUrl, `${url}/health/live`]);
      const answers = await Promise.all(
        Array.from({ length: QUEUED_REQUESTS }, () =>
          get(`${url}/api/queued-user/tasks`, { authorization }),
        ),
      );
      const probes = await prober.stop();
      const loadAverage = loadavg()[0];
      await locker.query('ROLLBACK');

      const waitedForConnection = app.lines
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
      const onOwnPort = probes.filter((probe) => probe.url === livenessUrl);
      const onServicePort = probes.filter((probe) => probe.url !== livenessUrl);
      const figures = (of: Probe[]) => ({
        probes: of.length,
        failed: of.filter(({ status }) => status !== 200).length,
        p50Ms: round(
          quantile(
            of.map(({ ms }) => ms),
            0.5,
          ),
        ),
        p99Ms: round(
          quantile(
            of.map(({ ms }) => ms),
            0.99,
          ),
        ),
        maxMs: round(Math.max(...of.map(({ ms }) => ms))),
      });
      reportFigures('overload-liveness', {
        queuedRequests: QUEUED_REQUESTS,
        loadAverage: Math.round(loadAverage * 10) / 10,
        cpuHogs: hogs.length,
        answers: statuses,
        waitedForConnection,
        eventLoopLagMaxMs: round(eventLoopLagMax * 1000),
        livenessPort: figures(onOwnPort),
        servicePort: figures(onServicePort),
      });

      // Measured where the question is asked: on a loaded machine.
      expect(hogs.length > 0 || loadAverage > MIN_LOAD_AVERAGE).toBe(true);
      // Queued requests were answered (served or refused with 503), none left hanging; and at
      // most the queue's bound waited for a connection (as the server timed them).
      expect(answers.filter(({ status }) => status !== 200 && status !== 503)).toEqual([]);
      expect(waitedForConnection).toBeLessThanOrEqual(inFlightLimit(POOL_MAX, CONNECT_TIMEOUT_MS));
      // The probes spanned the whole burst, and not one failed as a kubelet counts failures.
      expect(onOwnPort.length).toBeGreaterThan(10);
      expect(onOwnPort.filter(({ status }) => status !== 200)).toEqual([]);
    } finally {
      hogs.forEach((hog) => hog.kill('SIGKILL'));
      app.child.kill('SIGKILL');
      await locker.end();
      await database.drop();
    }
  }, 240_000);
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
