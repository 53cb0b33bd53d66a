import { Client } from 'pg';
import { MaintenanceService, PURGE_BATCH_SIZE } from '../src/sync/maintenance.service';
import { startTestApp, type TestApp } from './support/test-app';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const OLD_TRASH = 2 * PURGE_BATCH_SIZE + 150;

// specification §9–§11: the purge jobs, run by every replica at once without double work.
describe('maintenance: the purge jobs', () => {
  let database: TestDatabase;
  let replicas: TestApp[];
  let db: Client;
  const count = async (sql: string): Promise<number> =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0].n;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Two app instances on one database: two pools, as two replicas would have.
    replicas = [await startTestApp({}, database), await startTestApp({}, database)];
    db = new Client({ connectionString: database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    for (const replica of replicas) await replica.close();
    await database.drop();
  });

  it('two replicas purging at once purge each old row once, and nothing recent', async () => {
    await db.query(
      `INSERT INTO tasks (user_id, title, deleted_at)
       SELECT 'purged', 'old ' || n, now() - interval '31 days' - n * interval '1 second'
         FROM generate_series(1, $1::int) n`,
      [OLD_TRASH],
    );
    await db.query(`INSERT INTO tasks (user_id, title, deleted_at) VALUES
      ('purged', 'recent trash', now() - interval '29 days'), ('purged', 'live', NULL)`);
    await db.query(`INSERT INTO tombstones (user_id, resource, id, change_xid, deleted_at)
      SELECT 'gone', 'tasks', gen_random_uuid(), n, now() - interval '40 days'
        FROM generate_series(1, 700) n`);
    await db.query(`INSERT INTO idempotency_keys
        (user_id, key, request_hash, resource_path, status, response, expires_at)
      SELECT 'keys', 'key-' || n, repeat('a', 64), '/api/keys/tasks/x', 201, '{}',
             now() + CASE WHEN n <= 600 THEN interval '-1 hour' ELSE interval '1 hour' END
        FROM generate_series(1, 610) n`);

    const reports = await Promise.all(
      replicas.map((replica) => replica.app.get(MaintenanceService).runOnce()),
    );
    const total = (name: 'trash' | 'tombstones' | 'idempotencyKeys') =>
      reports.reduce((sum, report) => sum + (report[name] ?? 0), 0);
    // Each row purged by one replica only: the counts add up to exactly the rows there were.
    expect(total('trash')).toBe(OLD_TRASH);
    expect(total('tombstones')).toBe(700);
    expect(total('idempotencyKeys')).toBe(600);

    const { rows } = await db.query<{ title: string }>(
      `SELECT title FROM tasks WHERE user_id = 'purged' ORDER BY title`,
    );
    expect(rows.map((row) => row.title)).toEqual(['live', 'recent trash']);
    // The purged tasks left one (new) tombstone each, for the changes feed.
    expect(await count(`tombstones WHERE user_id = 'purged'`)).toBe(OLD_TRASH);
    expect(await count(`tombstones WHERE user_id = 'gone'`)).toBe(0);
    expect(await count(`idempotency_keys WHERE user_id = 'keys'`)).toBe(10);
    // The purged tombstones expire sync tokens up to the newest of them.
    expect(
      (
        await db.query(
          `SELECT purged_through::int AS t FROM sync_horizons WHERE resource = 'tasks'`,
        )
      ).rows,
    ).toEqual([{ t: 700 }]);

    const again = await replicas[0].app.get(MaintenanceService).runOnce();
    expect(again).toEqual({ trash: 0, tombstones: 0, idempotencyKeys: 0 });
  });

  it('a failing purge is logged and skipped: the others still run, nothing is thrown', async () => {
    const maintenance = replicas[1].app.get(MaintenanceService);
    await db.query(`INSERT INTO tasks (user_id, title, deleted_at)
      VALUES ('failing', 'old', now() - interval '31 days')`);
    await db.query('ALTER TABLE tombstones RENAME TO tombstones_away');
    try {
      // The trash purge fails too: its delete trigger writes tombstones.
      await expect(maintenance.runOnce()).resolves.toEqual({
        trash: null,
        tombstones: null,
        idempotencyKeys: 0,
      });
    } finally {
      await db.query('ALTER TABLE tombstones_away RENAME TO tombstones');
    }
    await expect(maintenance.runOnce()).resolves.toMatchObject({ trash: 1, tombstones: 0 });
  });
});
