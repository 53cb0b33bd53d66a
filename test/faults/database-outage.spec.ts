import type { InjectOptions } from 'fastify';
import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { listeningUrl, spawnServingApp } from '../support/app-process';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase, TestDatabase, withDatabase } from '../support/test-database';
import {
  admin,
  bringDatabaseBack,
  expectNoSecrets,
  inspect,
  quantile,
  reportFigures,
  round,
  sleep,
  steadyLoad,
  takeDatabaseAway,
} from './fault-support';
import { loadSlack, waitUntil } from '../support/machine-load';
import { authHeader } from '../support/tokens';
import { TcpProxy } from '../support/tcp-proxy';

const CONNECT_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 2000;
/** The service's own bound on a request: waiting for a connection, then the statement. */
const REQUEST_TIMERS_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS;
const OUTAGE_MS = 2000;
/** Successes counted before the outage, and after the last failure once the database is back. */
const SUCCESSES_AROUND_OUTAGE = 20;

type Kind = 'create' | 'list' | 'update' | 'toggle';

interface Outcome {
  kind: Kind;
  marker: string;
  sentAt: number;
  ms: number;
  status: number;
  code?: string;
  retryAfter: string | null;
  contentType: string | null;
}

/**
 * A login role of its own for the app, with a password no other text contains, so that a scan
 * of the logs can tell whether the password leaked.
 */
async function appRole(
  database: TestDatabase,
): Promise<{ name: string; url: string; password: string }> {
  const role = `tasks_app_${randomBytes(4).toString('hex')}`;
  const password = `db-pw-${randomBytes(12).toString('hex')}`;
  await admin(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  const client = await inspect(database.url);
  try {
    // What the app's statements touch: tasks, and the tables a write reads or writes beside them
    // (tombstones, lists, the idempotency keys).
    await client.query(
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`,
    );
  } finally {
    await client.end();
  }
  const url = new URL(database.url);
  url.username = role;
  url.password = password;
  return { name: role, url: withDatabase(url.toString(), database.name), password };
}

// specification §6: a database that goes away while serving turns requests into fast 503s and
// /health into 503; when it comes back the service recovers by itself. A real process under a
// steady mixed load; the database refuses connections and its sessions are terminated.
describe('database outage under load', () => {
  it('answers fast 503s with Retry-After, then recovers by itself with nothing half-written', async () => {
    const database = await createTestDatabase();
    const role = await appRole(database);
    const app = spawnServingApp(role.url, {
      DATABASE_POOL_MAX: '5',
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      LOG_LEVEL: 'debug',
    });
    let inspector = await inspect(database.url);
    try {
      const url = await listeningUrl(app);
      // Credentials that must never reach a log line, whatever happens to the request.
      const cookie = `session=cookie-${randomBytes(8).toString('hex')}`;
      const auth = { ...(await authHeader('outage-user')), cookie };
      const headers = { ...auth, 'content-type': 'application/json' };
      const tasksUrl = `${url}/api/outage-user/tasks`;
      const forged = await new SignJWT({ sub: 'outage-user' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(`forged-${randomBytes(16).toString('hex')}`));
      const basicPassword = `basic-${randomBytes(8).toString('hex')}`;
      const basic = Buffer.from(`admin:${basicPassword}`).toString('base64');
      for (const authorization of [`Bearer ${forged}`, `Basic ${basic}`]) {
        const refused = await fetch(tasksUrl, { headers: { authorization, cookie } });
        expect(refused.status).toBe(401);
      }

      // Tasks that the load updates (title and description together) and toggles.
      const seeded: string[] = [];
      for (let i = 0; i < 8; i++) {
        const response = await fetch(tasksUrl, {
          method: 'POST',
          headers,
          body: JSON.stringify({ title: `seed-${i}`, description: `seed-${i}` }),
        });
        expect(response.status).toBe(201);
        seeded.push(((await response.json()) as { id: string }).id);
      }

      const send = async (kind: Kind, marker: string, sequence: number): Promise<Outcome> => {
        const id = seeded[sequence % seeded.length];
        const [path, init]: [string, RequestInit] = {
          create: [
            tasksUrl,
            { method: 'POST', body: JSON.stringify({ title: marker, description: marker }) },
          ],
          list: [`${tasksUrl}?limit=5`, { method: 'GET' }],
          update: [
            `${tasksUrl}/${id}`,
            { method: 'PUT', body: JSON.stringify({ title: marker, description: marker }) },
          ],
          toggle: [`${tasksUrl}/${id}/complete`, { method: 'PATCH' }],
        }[kind] as [string, RequestInit];
        const sentAt = performance.now();
        const response = await fetch(path, {
          ...init,
          headers: kind === 'create' || kind === 'update' ? headers : auth,
        });
        const text = await response.text();
        const ms = performance.now() - sentAt;
        const code = response.ok ? undefined : (JSON.parse(text) as { code?: string }).code;
        return {
          kind,
          marker,
          sentAt,
          ms,
          status: response.status,
          code,
          retryAfter: response.headers.get('retry-after'),
          contentType: response.headers.get('content-type'),
        };
      };

      let running = true;
      const kinds: Kind[] = ['create', 'list', 'update', 'toggle'];
      const answered: Outcome[] = [];
      const load = steadyLoad<Outcome>({
        concurrency: 8,
        running: () => running,
        send: async (sequence) => {
          const outcome = await send(kinds[sequence % 4], `w-${sequence}`, sequence);
          answered.push(outcome);
          // While the database is away, 503s come back at once: pace the loop a little.
          if (outcome.status === 503) await sleep(10);
          return outcome;
        },
      });
      const health: { at: number; status: number; ms: number }[] = [];
      const probes = (async () => {
        while (running) {
          const at = performance.now();
          const response = await fetch(`${url}/health`);
          await response.arrayBuffer();
          health.push({ at, status: response.status, ms: performance.now() - at });
          await sleep(100);
        }
      })();

      // Each phase lasts until it has shown what it is for (counts, not a time that holds only on
      // an idle machine); the time-outs below only guard against a hang.
      const successesSince = (since: number): number =>
        answered.filter((outcome) => outcome.status < 400 && outcome.sentAt > since).length;
      await waitUntil(() => successesSince(0) >= SUCCESSES_AROUND_OUTAGE, { timeoutMs: 60_000 });
      // How long a request takes on this machine now, with the database there: the slack of the
      // bound below, so that a busy machine's slower answers are not mistaken for waiting.
      const healthySlowest = Math.max(...answered.map((outcome) => outcome.ms));
      const wentAwayAt = performance.now();
      await takeDatabaseAway(database.name);
      await waitUntil(
        () =>
          performance.now() - wentAwayAt >= OUTAGE_MS &&
          answered.some((outcome) => outcome.status === 503 && outcome.sentAt > wentAwayAt) &&
          health.some((probe) => probe.status === 503),
        { timeoutMs: 60_000 },
      );
      const cameBackAt = performance.now();
      await bringDatabaseBack(database.name);
      const lastFailureSoFar = (): number =>
        Math.max(
          cameBackAt,
          ...answered.filter((outcome) => outcome.status >= 400).map((o) => o.sentAt),
        );
      await waitUntil(
        () =>
          successesSince(lastFailureSoFar()) >= SUCCESSES_AROUND_OUTAGE &&
          health.some((probe) => probe.at > cameBackAt && probe.status === 200),
        { timeoutMs: 60_000 },
      );
      running = false;
      const outcomes = await load;
      await probes;

      // Every request was answered within the timeouts, with success or a 503 problem.
      const requestBoundMs = REQUEST_TIMERS_MS + Math.max(loadSlack(500), 2 * healthySlowest);
      const slowest = Math.max(...outcomes.map((outcome) => outcome.ms));
      expect(slowest).toBeLessThan(requestBoundMs);
      const failed = outcomes.filter((outcome) => outcome.status >= 400);
      expect(failed.length).toBeGreaterThan(0);
      expect(
        failed.filter(
          (outcome) =>
            outcome.status !== 503 ||
            outcome.code !== 'SERVICE_UNAVAILABLE' ||
            outcome.retryAfter === null ||
            !outcome.contentType?.startsWith('application/problem+json'),
        ),
      ).toEqual([]);
      // Failures only while the database was away (and the moment it took to notice its return).
      const lastFailureSent = Math.max(...failed.map((outcome) => outcome.sentAt));
      const recoveryMs = Math.max(0, lastFailureSent - cameBackAt);
      expect(failed.filter((outcome) => outcome.sentAt < wentAwayAt - 50)).toEqual([]);
      expect(recoveryMs).toBeLessThan(loadSlack(5000));
      const afterRecovery = outcomes.filter((outcome) => outcome.sentAt > lastFailureSent);
      expect(afterRecovery.length).toBeGreaterThanOrEqual(SUCCESSES_AROUND_OUTAGE);

      // /health: 200, then 503 while the database was away, then 200 again.
      const states = health.map((probe) => probe.status).filter((s, i, all) => s !== all[i - 1]);
      expect(states).toEqual([200, 503, 200]);
      const healthBack = health.find((probe) => probe.at > cameBackAt && probe.status === 200);
      expect(healthBack).toBeDefined();
      expect(Math.max(...health.map((probe) => probe.ms))).toBeLessThan(requestBoundMs);

      await inspector.end();
      inspector = await inspect(database.url);
      // No write was half-applied: every row's title and description come from one request,
      // every create answered 201 is stored, and no create answered 503 is.
      const { rows } = await inspector.query<{ title: string; description: string }>(
        `SELECT title, description FROM tasks WHERE user_id = 'outage-user'`,
      );
      expect(rows.filter((row) => row.title !== row.description)).toEqual([]);
      const stored = new Set(rows.map((row) => row.title));
      const creates = outcomes.filter((outcome) => outcome.kind === 'create');
      expect(
        creates.filter((outcome) => outcome.status === 201 && !stored.has(outcome.marker)),
      ).toEqual([]);
      const failedButStored = creates.filter(
        (outcome) => outcome.status === 503 && stored.has(outcome.marker),
      );
      expect(failedButStored).toEqual([]);

      // The outage is logged as what it is (a warning with the SQLSTATE), never as a bug.
      expect(app.lines.filter((line) => /unexpected error/.test(line))).toEqual([]);
      expect(app.lines.some((line) => /database is unavailable/.test(line))).toBe(true);
      expectNoSecrets(app.lines, [
        role.password,
        auth.authorization.slice('Bearer '.length),
        forged,
        forged.split('.')[2],
        basic,
        basicPassword,
        cookie,
      ]);
      const during = outcomes.filter(
        (outcome) => outcome.sentAt >= wentAwayAt && outcome.sentAt <= cameBackAt,
      );
      reportFigures('outage', {
        requests: outcomes.length,
        outageMs: round(cameBackAt - wentAwayAt),
        answered503: failed.length,
        otherErrors: 0,
        p50MsDuringOutage: round(
          quantile(
            during.map((outcome) => outcome.ms),
            0.5,
          ),
        ),
        maxMsDuringOutage: round(Math.max(...during.map((outcome) => outcome.ms))),
        slowestMs: round(slowest),
        boundMs: round(requestBoundMs),
        recoveryMs: round(recoveryMs),
        healthBackAfterMs: round((healthBack?.at ?? 0) - cameBackAt),
        failedCreatesStored: failedButStored.length,
      });
    } finally {
      await bringDatabaseBack(database.name);
      app.child.kill('SIGINT');
      await app.exit;
      await inspector.end();
      await database.drop();
      await admin(`DROP ROLE IF EXISTS ${role.name}`);
    }
  }, 180_000);
});

// A statement cut by DATABASE_STATEMENT_TIMEOUT_MS is a 503 too, and its connection goes back to
// the pool in working order: with a pool of one, the next request runs on that same session.
describe('a statement that outlives DATABASE_STATEMENT_TIMEOUT_MS', () => {
  const statementTimeoutMs = 300;
  let testApp: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    testApp = await startTestApp({
      DATABASE_POOL_MAX: '1',
      DATABASE_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
      // Keeps the client-side bound (statement + connect timeout) far from the server's cut even
      // on a loaded machine: a connection cut by the client is ended, so it would not be reused.
      DATABASE_CONNECT_TIMEOUT_MS: '5000',
    });
    auth = await authHeader('timeout-user');
  });
  afterAll(() => testApp.close());

  const inject = (options: InjectOptions) =>
    testApp.app.getHttpAdapter().getInstance().inject(options);
  const appSessions = async (client: Client): Promise<number[]> => {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tasks-service'`,
    );
    return rows.map((row) => row.pid);
  };

  it('answers 503 with Retry-After, writes nothing, and the same connection serves the next request', async () => {
    const path = '/api/timeout-user/tasks';
    const created = await inject({
      method: 'POST',
      url: path,
      headers: auth,
      payload: { title: 'before the lock' },
    });
    expect(created.statusCode).toBe(201);
    const locker = await inspect(testApp.database.url);
    const observer = await inspect(testApp.database.url);
    try {
      const sessionsBefore = await appSessions(observer);
      expect(sessionsBefore).toHaveLength(1);

      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE');
      const started = performance.now();
      const [list, create] = await Promise.all([
        inject({ method: 'GET', url: path, headers: auth }),
        inject({ method: 'POST', url: path, headers: auth, payload: { title: 'under the lock' } }),
      ]);
      const tookMs = performance.now() - started;
      await locker.query('ROLLBACK');

      for (const response of [list, create]) {
        expect(response.statusCode).toBe(503);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
        expect(response.headers['retry-after']).toBe('5');
      }
      // Two statements, one after the other on the single connection, each cut at the timeout.
      expect(tookMs).toBeGreaterThanOrEqual(statementTimeoutMs);
      expect(tookMs).toBeLessThan(2 * statementTimeoutMs + loadSlack(2000));

      const after = await inject({ method: 'GET', url: path, headers: auth });
      expect(after.statusCode).toBe(200);
      expect((after.json() as { title: string }[]).map((task) => task.title)).toEqual([
        'before the lock',
      ]);
      expect(await appSessions(observer)).toEqual(sessionsBefore);
      reportFigures('statement-timeout', {
        statementTimeoutMs,
        poolMax: 1,
        cutRequests: 2,
        tookMs: round(tookMs),
        sameSession: true,
      });
    } finally {
      await locker.end();
      await observer.end();
    }
  });
});

// A network that silently drops the flows of the pool's open connections (a partition, a NAT or
// firewall that forgot them, a server host replaced behind the same address) while new
// connections work: each request is bounded by the client-side query timeout, and every
// connection that hit it is dropped, so the service recovers by itself instead of failing each
// request that draws a dead connection for as long as TCP takes to notice.
describe('connections that go silent', () => {
  it('cost one bounded 503 each, then the pool reconnects by itself', async () => {
    const database = await createTestDatabase();
    const proxy = await TcpProxy.start(database.url);
    const poolMax = 3;
    const statementTimeoutMs = 500;
    // Generous, so that opening the replacement connections never times out on a busy machine.
    const connectTimeoutMs = 1500;
    const queryTimeoutMs = statementTimeoutMs + connectTimeoutMs;
    const testApp = await startTestApp(
      {
        DATABASE_URL: proxy.url,
        DATABASE_POOL_MAX: String(poolMax),
        DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
        DATABASE_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
      },
      database,
    );
    try {
      const auth = await authHeader('silent-user');
      const fastify = testApp.app.getHttpAdapter().getInstance();
      const get = async () => {
        const sentAt = performance.now();
        const response = await fastify.inject({
          method: 'GET',
          url: '/api/silent-user/tasks',
          headers: auth,
        });
        return {
          sentAt,
          ms: performance.now() - sentAt,
          status: response.statusCode,
          code:
            response.statusCode === 200 ? undefined : (response.json() as { code: string }).code,
        };
      };
      // Fill the pool, then cut every one of its connections. The slowest of those healthy
      // requests is how long the machine itself takes now: the slack of the bound below.
      const healthy = await Promise.all(Array.from({ length: poolMax * 2 }, get));
      const healthySlowest = Math.max(...healthy.map((outcome) => outcome.ms));
      const frozen = proxy.freeze();
      // The pool's connections, and the event stream's LISTEN connection, which goes through the
      // same proxy (DATABASE_DIRECT_URL defaults to DATABASE_URL).
      expect(frozen).toBe(poolMax + 1);
      const frozenAt = performance.now();
      // As many clients as connections: the first round draws every dead connection at once.
      // The load runs until every dead connection has had time to fail and 20 requests have
      // succeeded after the last failure (a hang guard, not a budget, ends it otherwise).
      const answered: Awaited<ReturnType<typeof get>>[] = [];
      const recovered = (): boolean => {
        const failures = answered.filter((outcome) => outcome.status !== 200);
        const lastFailure = Math.max(frozenAt, ...failures.map((outcome) => outcome.sentAt));
        return (
          performance.now() - frozenAt >= 2 * queryTimeoutMs &&
          answered.filter((outcome) => outcome.status === 200 && outcome.sentAt > lastFailure)
            .length >= 20
        );
      };
      const outcomes = await steadyLoad({
        concurrency: poolMax,
        running: () => !recovered() && performance.now() - frozenAt < 60_000,
        send: async () => {
          const outcome = await get();
          answered.push(outcome);
          return outcome;
        },
      });

      const failed = outcomes.filter((outcome) => outcome.status !== 200);
      expect(failed.map((outcome) => [outcome.status, outcome.code])).toEqual(
        Array(failed.length).fill([503, 'SERVICE_UNAVAILABLE']),
      );
      // One failure per dead connection, each within statement + connect timeout.
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.length).toBeLessThanOrEqual(poolMax);
      expect(Math.max(...outcomes.map((outcome) => outcome.ms))).toBeLessThan(
        queryTimeoutMs + Math.max(loadSlack(500), 2 * healthySlowest),
      );
      const recoveredAfterMs =
        Math.max(...failed.map((outcome) => outcome.sentAt + outcome.ms)) - frozenAt;
      expect(recoveredAfterMs).toBeLessThan(loadSlack(5000));
      const afterRecovery = outcomes.filter(
        (outcome) => outcome.sentAt > frozenAt + recoveredAfterMs,
      );
      expect(afterRecovery.length).toBeGreaterThanOrEqual(20);
      reportFigures('silent-connections', {
        poolMax,
        queryTimeoutMs,
        requests: outcomes.length,
        failed503: failed.length,
        recoveredAfterMs: round(recoveredAfterMs),
      });
    } finally {
      await testApp.close();
      await proxy.close();
      await database.drop();
    }
  }, 120_000);
});
