import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { MIGRATIONS } from '../../migrations';
import { adminQuery, TEST_ADMIN_URL_VAR, withDatabase } from '../support/test-database';
import { openDataSource } from '../support/test-data-source';

const run = promisify(execFile);
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
    try {
      const [{ count }] = await dataSource.query('SELECT count(*)::int AS count FROM migrations');
      expect(count).toBe(MIGRATIONS.length);
      const triggers = await dataSource.query(
        `SELECT tgname FROM pg_trigger WHERE tgrelid = 'tasks'::regclass AND NOT tgisinternal`,
      );
      expect(triggers).toEqual([{ tgname: 'update_tasks_updated_at' }]);
      const [{ indexes }] = await dataSource.query(
        `SELECT count(*)::int AS indexes FROM pg_indexes WHERE tablename = 'tasks'`,
      );
      // The primary key, the three sort orders and the list filter.
      expect(indexes).toBe(5);
    } finally {
      await dataSource.destroy();
    }
  }, 120_000);
});
