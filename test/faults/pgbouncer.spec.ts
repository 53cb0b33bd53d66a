import { MIGRATIONS } from '../../migrations';
import { Client } from 'pg';

import { listeningUrl, spawnApp, spawnServingApp } from '../support/app-process';
import { findPgBouncer, PGBOUNCER_REQUIRED_VAR, PgBouncer } from '../support/pgbouncer';
import { openDataSource } from '../support/test-data-source';
import {
  adminQuery,
  createTestDatabase,
  TEST_ADMIN_URL_VAR,
  TestDatabase,
  withDatabase,
} from '../support/test-database';
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

const STATEMENT_TIMEOUT_MS = 1000;
const CONNECT_TIMEOUT_MS = 1000;
const MIGRATION_ROUNDS = 4;
/** Starting under ts-node on a loaded machine takes a while (over 40 s at a load average of 25). */
const START_TIMEOUT_MS = 90_000;

const binary = findPgBouncer();
const required = process.env[PGBOUNCER_REQUIRED_VAR] === '1';
if (!binary && !required) {
  console.warn(
    'NOTICE: pgbouncer is not installed, so the PgBouncer (transaction mode) tests are SKIPPED. ' +
      'Install it (Debian: apt-get install pgbouncer; .ci/run does) to run them.',
  );
}
const describeWithPgBouncer = binary || required ? describe : describe.skip;

const adminUrl = (): string => process.env[TEST_ADMIN_URL_VAR] as string;

/** The service as a process, with DATABASE_URL pointing at the pooler; `env` adds to that. */
const spawnBehind = (url: string, env: Record<string, string> = {}): ReturnType<typeof spawnApp> =>
  spawnServingApp(url, {
    DATABASE_POOL_MAX: '5',
    DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
    DATABASE_STARTUP_RETRY_MS: '3000',
    // PgBouncer 1.18 in transaction mode cannot keep named statements: a statement prepared on
    // one server connection is run on another, which does not have it. PgBouncer 1.21+ can
    // (`max_prepared_statements`), and so can Neon's pooler.
    DATABASE_PREPARED_STATEMENTS: 'false',
    LOG_LEVEL: 'info',
    ...env,
  });

/** The warning of a service that met a pooler which loses prepared statements. */
const FALLBACK_WARNING = /A prepared statement was lost between server connections/;

/** The start-up failure line of a process that exited 1. */
async function startupFailure(app: ReturnType<typeof spawnApp>): Promise<string> {
  const { code } = await app.exit;
  expect(code).toBe(1);
  expect(app.lines.filter((line) => /database reachable/.test(line))).toEqual([]);
  const fatal = app.lines.filter((line) => /"level":"fatal"/.test(line));
  expect(fatal).toHaveLength(1);
  // One line in all: no framework chatter, no stack.
  expect(app.lines.filter((line) => line.trim() !== '')).toEqual(fatal);
  expect(fatal[0]).toContain('RECONNECT on its admin console');
  return (JSON.parse(fatal[0]) as { msg: string }).msg;
}

/**
 * 8 clients running task cycles as `user` until `stop()`, which first waits for `minCycles`
 * finished cycles (however long a loaded machine takes), then returns every answer.
 */
function mixedLoad(
  url: string,
  user: string,
  headers: Record<string, string>,
  minCycles = 0,
): { stop: () => Promise<MixedOutcome[]> } {
  let loading = true;
  let cycles = 0;
  const load = steadyLoad<MixedOutcome[]>({
    concurrency: 8,
    running: () => loading,
    send: async (sequence) => {
      const cycle = await taskCycle(url, user, headers, `${user}-${sequence}`);
      cycles++;
      return cycle;
    },
  });
  return {
    stop: async () => {
      await waitUntil(() => cycles >= minCycles, { timeoutMs: 60_000 });
      loading = false;
      return (await load).flat();
    },
  };
}

// specification §6 behind a transaction-mode pooler (PgBouncer 1.18, as Debian ships it; what
// Neon's `-pooler` endpoint is): the service either runs correctly through it or refuses to
// start with the remedy in one line, and migrations run through it exactly once each.
describeWithPgBouncer('behind PgBouncer in transaction mode', () => {
  const bouncers: PgBouncer[] = [];
  const databases: TestDatabase[] = [];

  const pooler = async (
    ignoreStartupParameters?: string[],
    defaultPoolSize?: number,
  ): Promise<PgBouncer> => {
    expect(binary).not.toBeNull();
    const bouncer = await PgBouncer.start(binary as string, adminUrl(), {
      ignoreStartupParameters,
      defaultPoolSize,
    });
    bouncers.push(bouncer);
    return bouncer;
  };
  const database = async (): Promise<TestDatabase> => {
    const created = await createTestDatabase();
    databases.push(created);
    return created;
  };
  /** A pooler that ignores the parameter, and a database with the remedy applied (on the
   * database rather than the role: other test files share the role). */
  const remedied = async (): Promise<{ bouncer: PgBouncer; served: TestDatabase }> => {
    const bouncer = await pooler(['statement_timeout']);
    const served = await database();
    await adminQuery(
      adminUrl(),
      `ALTER DATABASE ${served.name} SET statement_timeout = '${STATEMENT_TIMEOUT_MS}ms'`,
    );
    return { bouncer, served };
  };

  afterAll(async () => {
    await Promise.all(bouncers.map((bouncer) => bouncer.stop()));
    await Promise.all(databases.map((created) => created.drop()));
  });

  it('as installed (no setting changed): refuses to start, with the remedy in one line', async () => {
    const bouncer = await pooler();
    const app = spawnBehind(bouncer.via((await database()).url));
    try {
      const message = await startupFailure(app);
      expect(message).toContain('refuses the statement_timeout start-up parameter');
      expect(message).toContain('ignore_startup_parameters');
      expect(message).toContain(
        `ALTER ROLE "postgres" SET statement_timeout = '${STATEMENT_TIMEOUT_MS}ms';`,
      );
    } finally {
      app.child.kill('SIGKILL');
    }
  }, 120_000);

  it('ignoring the parameter with no timeout where it keeps one: refuses to start', async () => {
    const bouncer = await pooler(['statement_timeout']);
    const app = spawnBehind(bouncer.via((await database()).url));
    try {
      const message = await startupFailure(app);
      expect(message).toContain('does not cut statements before the service gives up');
      expect(message).toContain('statement_timeout is 0 ms');
      expect(message).toContain(
        `ALTER ROLE "postgres" SET statement_timeout = '${STATEMENT_TIMEOUT_MS}ms';`,
      );
    } finally {
      app.child.kill('SIGKILL');
    }
  }, 120_000);

  it('with the remedy and prepared statements left on: falls back to unnamed ones, says so once, never answers 500', async () => {
    const { bouncer, served } = await remedied();
    // DATABASE_PREPARED_STATEMENTS as it is by default.
    const app = spawnBehind(bouncer.via(served.url), { DATABASE_PREPARED_STATEMENTS: 'true' });
    try {
      const url = await listeningUrl(app, START_TIMEOUT_MS);
      const headers = await authHeader('prepared-user');
      const load = mixedLoad(url, 'prepared-user', headers);
      // Enough cycles for the pool's connections to meet each other's statements on the
      // pooler's server connections.
      await sleep(4000);
      const outcomes = await load.stop();

      expect(outcomes.length).toBeGreaterThan(50);
      expect(outcomes.filter(({ status }) => status < 200 || status >= 300)).toEqual([]);
      expect(app.lines.filter((line) => FALLBACK_WARNING.test(line))).toHaveLength(1);
      expect((await fetch(`${url}/health/ready`)).status).toBe(200);
      reportFigures('pgbouncer-prepared', {
        requests: outcomes.length,
        failed: outcomes.filter(({ status }) => status < 200 || status >= 300).length,
        fallbackWarnings: app.lines.filter((line) => FALLBACK_WARNING.test(line)).length,
      });
    } finally {
      app.child.kill('SIGKILL');
    }
  }, 180_000);

  it('three migration runners through two server connections: one migrates, two wait without holding one', async () => {
    // As few server connections as the lock holder needs: its lock's and its migrations'.
    const bouncer = await pooler(['statement_timeout'], 2);
    const name = `tasks_small_pool_migrations_${process.pid}`;
    await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await adminQuery(adminUrl(), `CREATE DATABASE ${name}`);
    try {
      const runners = await Promise.all(
        [1, 2, 3].map(() => openDataSource(bouncer.via(withDatabase(adminUrl(), name)))),
      );
      let outcomes: (number | string)[];
      try {
        outcomes = await Promise.all(
          runners.map((runner) =>
            runner.runMigrations().then(
              (applied) => applied.length,
              (error: unknown) => String(error),
            ),
          ),
        );
      } finally {
        await Promise.all(runners.map((runner) => runner.destroy()));
      }
      expect(outcomes.sort()).toEqual([0, 0, MIGRATIONS.length]);
    } finally {
      await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  }, 120_000);

  it('with the remedy: serves a mixed load, cuts blocked writes server-side, and migrates concurrently', async () => {
    const { bouncer, served } = await remedied();
    const app = spawnBehind(bouncer.via(served.url));
    const inspector = await inspect(served.url);
    try {
      const url = await listeningUrl(app, START_TIMEOUT_MS);
      const headers = await authHeader('pooled-user');

      // Mixed load through the pooler, while three migration runners at a time migrate empty
      // databases through the same pooler.
      // 11 create-read-update-list-delete cycles (over 50 requests) met by the migrations.
      const load = mixedLoad(url, 'pooled-user', headers, 11);
      let outcomes: MixedOutcome[] = [];
      const migrationRounds: number[][] = [];
      const leakedLocks: number[] = [];
      try {
        for (let round = 1; round <= MIGRATION_ROUNDS; round++) {
          const name = `tasks_pooled_migrations_${process.pid}_${round}`;
          await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await adminQuery(adminUrl(), `CREATE DATABASE ${name}`);
          const runners = await Promise.all(
            [1, 2, 3].map(() => openDataSource(bouncer.via(withDatabase(adminUrl(), name)))),
          );
          try {
            const applied = await Promise.all(runners.map((runner) => runner.runMigrations()));
            migrationRounds.push(applied.map((migrations) => migrations.length).sort());
          } finally {
            await Promise.all(runners.map((runner) => runner.destroy()));
          }
          const direct = new Client({ connectionString: withDatabase(adminUrl(), name) });
          await direct.connect();
          try {
            const { rows } = await direct.query<{ recorded: number; locks: number }>(
              `SELECT (SELECT count(*)::int FROM migrations) AS recorded,
                      (SELECT count(*)::int FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                        WHERE l.locktype = 'advisory' AND d.datname = current_database()) AS locks`,
            );
            expect(rows[0].recorded).toBe(MIGRATIONS.length);
            leakedLocks.push(rows[0].locks);
          } finally {
            await direct.end();
          }
          await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        }
      } finally {
        outcomes = await load.stop();
      }
      expect(migrationRounds).toEqual(Array(MIGRATION_ROUNDS).fill([0, 0, MIGRATIONS.length]));
      expect(leakedLocks).toEqual(Array(MIGRATION_ROUNDS).fill(0));
      expect(outcomes.length).toBeGreaterThan(50);
      expect(outcomes.filter(({ status }) => status < 200 || status >= 300)).toEqual([]);
      const kinds = new Set(outcomes.map(({ kind }) => kind));
      expect(kinds).toEqual(new Set(['create', 'read', 'update', 'list', 'delete']));

      // A write blocked behind a lock is cut by the server before the client gives up on it:
      // answered 503, and never committed afterwards.
      await inspector.query('BEGIN');
      await inspector.query('LOCK TABLE tasks IN EXCLUSIVE MODE');
      const sentAt = performance.now();
      const blocked = await fetch(`${url}/api/pooled-user/tasks`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'blocked-write' }),
      });
      const blockedMs = performance.now() - sentAt;
      expect(blocked.status).toBe(503);
      expect(blocked.headers.get('retry-after')).not.toBeNull();
      await inspector.query('ROLLBACK');
      await sleep(500);
      const { rows: stored } = await inspector.query(
        `SELECT id FROM tasks WHERE title = 'blocked-write'`,
      );
      expect(stored).toEqual([]);
      expect(app.lines.some((line) => /"sqlState":"57014"/.test(line))).toBe(true);

      reportFigures('pgbouncer', {
        poolMode: 'transaction',
        requests: outcomes.length,
        failed: outcomes.filter(({ status }) => status < 200 || status >= 300).length,
        migrationRounds: migrationRounds.length,
        runnersPerRound: 3,
        leakedLocks: leakedLocks.reduce((sum, locks) => sum + locks, 0),
        blockedWriteAnsweredMs: round(blockedMs),
        blockedWriteStored: stored.length,
      });
    } finally {
      app.child.kill('SIGKILL');
      await inspector.end();
    }
  }, 300_000);
});
