import { listeningUrl, spawnServingApp } from '../support/app-process';
import { createTestDatabase } from '../support/test-database';
import {
  authHeader,
  inspect,
  MixedOutcome,
  reportFigures,
  round,
  sleep,
  steadyLoad,
  taskCycle,
} from './fault-support';
import { waitUntil } from '../support/machine-load';

const TERMINATE_EVERY_MS = 20;
const TERMINATING_FOR_MS = 5000;
/**
 * Sessions to terminate before the fault ends. How many fit in 5 s depends on how busy the
 * machine is (at load 10, 14 where an idle machine does 60), so the fault lasts until this many
 * were terminated, and at least 5 s.
 */
const SESSIONS_TO_TERMINATE = 20;

const countBy = (outcomes: MixedOutcome[]): Record<string, number> =>
  outcomes.reduce<Record<string, number>>((counts, { status, error }) => {
    const key = error ?? String(status);
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

// specification §6: a database fault never crashes the process. The service's sessions are
// terminated (pg_terminate_backend: what a failover, a managed database's compute restart or an
// administrator does) every 20 ms for seconds, under a steady mixed load: a FATAL can then reach
// a connection at any moment, including between the pool's hand-over and the first query.
describe('sessions terminated every 20 ms under load', () => {
  it('keeps the process alive, answers only 2xx or 503, and serves again afterwards', async () => {
    const database = await createTestDatabase();
    const app = spawnServingApp(database.url, {
      DATABASE_POOL_MAX: '5',
      DATABASE_CONNECT_TIMEOUT_MS: '2000',
      DATABASE_STATEMENT_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'info',
    });
    const terminator = await inspect(database.url);
    try {
      const url = await listeningUrl(app);
      const headers = await authHeader('terminated-user');
      let exited = false;
      void app.exit.then(() => (exited = true));

      let terminating = true;
      let terminated = 0;
      const terminations = (async () => {
        while (terminating && !exited) {
          const { rowCount } = await terminator.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'tasks-service'`,
          );
          terminated += rowCount ?? 0;
          await sleep(TERMINATE_EVERY_MS);
        }
      })();
      const load = steadyLoad<MixedOutcome[]>({
        concurrency: 12,
        running: () => terminating && !exited,
        send: (sequence) => taskCycle(url, 'terminated-user', headers, `cycle-${sequence}`),
      });
      const faultStartedAt = performance.now();
      await waitUntil(
        () =>
          exited ||
          (terminated >= SESSIONS_TO_TERMINATE &&
            performance.now() - faultStartedAt >= TERMINATING_FOR_MS),
        { timeoutMs: 60_000 },
      );
      const faultMs = performance.now() - faultStartedAt;
      terminating = false;
      await terminations;
      const outcomes = (await load).flat();

      // The process is alive, and every answer was a success or a clean, retryable 503.
      expect(exited).toBe(false);
      expect(app.lines.filter((line) => /Unhandled 'error' event|uncaught/i.test(line))).toEqual(
        [],
      );
      expect(terminated).toBeGreaterThanOrEqual(SESSIONS_TO_TERMINATE);
      const unexpected = outcomes.filter(
        ({ status }) => !(status >= 200 && status < 300) && status !== 503 && status !== 412,
      );
      expect(unexpected).toEqual([]);

      // Ready again by itself, and serving a full cycle.
      const readySince = performance.now();
      let ready = 0;
      await waitUntil(async () => (ready = (await fetch(`${url}/health/ready`)).status) === 200, {
        timeoutMs: 30_000,
        everyMs: 100,
      });
      expect(ready).toBe(200);
      const after = await taskCycle(url, 'terminated-user', headers, 'after');
      expect(after.map(({ status }) => status)).toEqual([201, 200, 200, 200, 204]);

      reportFigures('terminator', {
        terminateEveryMs: TERMINATE_EVERY_MS,
        forMs: round(faultMs),
        sessionsTerminated: terminated,
        requests: outcomes.length,
        answers: countBy(outcomes),
        readyAfterMs: round(performance.now() - readySince),
        processAlive: !exited,
      });
    } finally {
      app.child.kill('SIGKILL');
      await terminator.end();
      await database.drop();
    }
  }, 150_000);
});
