import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import {
  MIGRATION_LOCK_KEY,
  MigrationLockTimeoutError,
} from '../../src/database/tasks-data-source';
import { MIGRATIONS } from '../../migrations';
import {
  adminQuery,
  TEST_ADMIN_URL_VAR,
  TEST_TEMPLATE_VAR,
  withDatabase,
} from '../support/test-database';
import { openDataSource } from '../support/test-data-source';
import { loadSlack } from '../support/machine-load';

const run = promisify(execFile);

/** The triggers and index definitions of `tasks`, by name. */
async function tasksSchema(dataSource: {
  query: (sql: string) => Promise<unknown[]>;
}): Promise<{ triggers: unknown[]; indexes: unknown[] }> {
  return {
    triggers: await dataSource.query(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = 'tasks'::regclass AND NOT tgisinternal
        ORDER BY tgname`,
    ),
    indexes: await dataSource.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks' ORDER BY indexname`,
    ),
  };
}
const ROOT = resolve(__dirname, '../..');

// Several pods (or a Job and a pod) starting at once: the advisory lock serialises the runners.
describe('three migration processes at once on an empty database', () => {
  const adminUrl = (): string => process.env[TEST_ADMIN_URL_VAR] as string;
  const name = `tasks_concurrent_${process.pid}`;

  beforeAll(async () => {
    await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await adminQuery(adminUrl(), `CREATE DATABASE ${name}`);
  });
  afterAll(() => adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

  it('leaves one correct schema and each migration recorded once', async () => {
    const migrate = () =>
      run(
        process.execPath,
        [
          '-r',
          'ts-node/register/transpile-only',
          'node_modules/typeorm/cli.js',
          '-d',
          'ormconfig.ts',
          'migration:run',
        ],
        {
          cwd: ROOT,
          env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: withDatabase(adminUrl(), name) },
          timeout: 90_000,
        },
      );
    const results = await Promise.all([migrate(), migrate(), migrate()]);
    const executed = results.filter(({ stdout }) => /has been executed successfully/.test(stdout));
    const idle = results.filter(({ stdout }) => /No migrations are pending/.test(stdout));
    expect([executed.length, idle.length]).toEqual([1, 2]);

    const dataSource = await openDataSource(withDatabase(adminUrl(), name));
    const template = await openDataSource(
      withDatabase(adminUrl(), process.env[TEST_TEMPLATE_VAR] as string),
    );
    try {
      const [{ count }] = await dataSource.query('SELECT count(*)::int AS count FROM migrations');
      expect(count).toBe(MIGRATIONS.length);
      // The same triggers and indexes on tasks as the template that the global set-up migrated
      // once, alone: three runners at once built the schema once, completely.
      expect(await tasksSchema(dataSource)).toEqual(await tasksSchema(template));
    } finally {
      await dataSource.destroy();
      await template.destroy();
    }
  }, 120_000);
});

// A lock left behind (a runner whose session a pooler kept alive, a stuck console session) must
// make the next runner fail with the session to end, not wait for ever.
describe('a migration lock held by another session', () => {
  const adminUrl = (): string => process.env[TEST_ADMIN_URL_VAR] as string;
  const name = `tasks_leaked_lock_${process.pid}`;

  beforeAll(async () => {
    await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await adminQuery(adminUrl(), `CREATE DATABASE ${name}`);
  });
  afterAll(() => adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

  it('fails within the bounded wait, naming the session that holds it', async () => {
    const holder = new Client({
      connectionString: withDatabase(adminUrl(), name),
      application_name: 'leaked-lock-holder',
    });
    await holder.connect();
    const dataSource = await openDataSource(withDatabase(adminUrl(), name));
    try {
      const {
        rows: [{ pid }],
      } = await holder.query<{ pid: number }>(
        'SELECT pg_backend_pid() AS pid, pg_advisory_lock($1)',
        [MIGRATION_LOCK_KEY],
      );
      dataSource.migrationLockWaitMs = 1000;
      const started = performance.now();
      let deadline: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        dataSource.runMigrations().then(
          () => 'migrated',
          (error: unknown) => error,
        ),
        new Promise((late) => {
          deadline = setTimeout(() => late('still waiting'), 60_000);
        }),
      ]);
      clearTimeout(deadline);
      expect(outcome).toBeInstanceOf(MigrationLockTimeoutError);
      expect((outcome as Error).message).toContain(`pg_terminate_backend(${pid})`);
      expect((outcome as Error).message).toContain('leaked-lock-holder');
      expect(performance.now() - started).toBeLessThan(1000 + loadSlack(9000));
      // Nothing was migrated, and the runner left no lock or session behind.
      const { rows } = await holder.query(`SELECT to_regclass('migrations') AS table`);
      expect(rows).toEqual([{ table: null }]);
      const { rows: sessions } = await holder.query(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'tasks-service-migrations'`,
      );
      expect(sessions).toEqual([]);
    } finally {
      await dataSource.destroy();
      await holder.end();
    }
  }, 90_000);
});
