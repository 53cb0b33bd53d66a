import { createHash } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { AddSyncTrashAndIdempotency1733200000000 } from '../migrations/1733200000000-add-sync-trash-and-idempotency';
import { MIGRATIONS } from '../migrations';
import {
  idempotentCreateStatement,
  PURGE_EXPIRED_KEYS,
  purgeTrashStatement,
  RELEASE_EXPIRED_KEY,
  replayStatement,
} from '../src/sync/sync.statements';
import { createSyncDatabase, type SyncDatabase, TASK_COLUMNS } from './support/sync-schema';
import { openDataSource } from './support/test-data-source';
import { createTestDatabase } from './support/test-database';

const TASKS = {
  table: 'tasks',
  columns: TASK_COLUMNS,
  timestamps: ['created_at', 'updated_at'],
  trash: true,
  texts: ['user_id', 'title', 'description'],
};
const RETURNING = TASK_COLUMNS.join(', ');
const CREATE = idempotentCreateStatement(
  `INSERT INTO tasks (user_id, title) VALUES ($1, $2) RETURNING ${RETURNING}`,
  3,
  TASKS,
);
const REPLAY = replayStatement(TASKS);
const hashOf = (body: object) =>
  createHash('sha256')
    .update(`POST /api/alice/tasks ${JSON.stringify(body)}`)
    .digest('hex');

interface TaskRow {
  id: string;
  user_id: string;
  title: string;
  completed: boolean;
  version: number;
  created_at: string;
  updated_at: string;
}

// specification §9 and §11, at the SQL level: each statement is run as the HTTP layer will run it.
describe('idempotent creates, trash and bulk changes (SQL)', () => {
  let db: SyncDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createSyncDatabase();
    pool = db.pool;
  });
  afterAll(() => db.close());

  const insert = (owner: string, title: string, completed = false) =>
    pool
      .query<TaskRow>(
        `INSERT INTO tasks (user_id, title, completed) VALUES ($1, $2, $3) RETURNING ${RETURNING}`,
        [owner, title, completed],
      )
      .then(({ rows }) => rows[0]);
  const countOf = async (sql: string, parameters: unknown[]) =>
    (await pool.query<{ count: number }>(sql, parameters)).rows[0].count;

  /** What the HTTP layer does with a key: create, or on 23505 replay the stored answer. */
  async function createWithKey(owner: string, key: string, title: string) {
    const hash = hashOf({ title });
    try {
      const { rows } = await pool.query<TaskRow & { resource_path: string }>(CREATE, [
        owner,
        title,
        key,
        hash,
        `/api/${owner}/tasks/`,
        24,
      ]);
      return { replayed: false, reused: false, task: rows[0], location: rows[0].resource_path };
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code !== '23505' || constraint !== 'pk_idempotency_keys') throw error;
      const { rows } = await pool.query<
        TaskRow & { request_hash: string; status: number; resource_path: string; expired: boolean }
      >(REPLAY, [owner, key]);
      const [stored] = rows;
      return {
        replayed: true,
        reused: stored.request_hash !== hash,
        task: stored,
        location: stored.resource_path,
        status: stored.status,
      };
    }
  }

  describe('idempotency keys', () => {
    it('stores the task and its key in one statement, and a retry replays the same answer', async () => {
      const first = await createWithKey('alice', 'key-1', 'Buy milk');
      expect(first).toMatchObject({
        replayed: false,
        location: `/api/alice/tasks/${first.task.id}`,
      });
      const retry = await createWithKey('alice', 'key-1', 'Buy milk');
      expect(retry).toMatchObject({ replayed: true, reused: false, status: 201 });
      // The stored answer comes back with the create's own columns and types.
      const columnsOf = (row: object) =>
        Object.fromEntries(
          TASK_COLUMNS.map((column) => [column, (row as Record<string, unknown>)[column]]),
        );
      expect(columnsOf(retry.task)).toEqual(columnsOf(first.task));
      expect(retry.task.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(retry.location).toBe(first.location);
      expect(
        await countOf(`SELECT count(*)::int AS count FROM tasks WHERE user_id = 'alice'`, []),
      ).toBe(1);
    });

    it('tells a reused key (another body) from a retry, and scopes keys to their owner', async () => {
      await createWithKey('alice', 'key-2', 'One thing');
      expect(await createWithKey('alice', 'key-2', 'Another thing')).toMatchObject({
        replayed: true,
        reused: true,
      });
      const bobs = await createWithKey('bob', 'key-2', 'One thing');
      expect(bobs).toMatchObject({ replayed: false });
    });

    it('leaves neither a task without its key nor a key without its task', async () => {
      // A key the table refuses (not printable ASCII) fails the whole statement: no task either.
      await expect(
        pool.query(CREATE, [
          'carol',
          'orphan?',
          'bad\u0001key',
          hashOf({}),
          '/api/carol/tasks/',
          24,
        ]),
      ).rejects.toMatchObject({ code: '23514' });
      expect(
        await countOf(`SELECT count(*)::int AS count FROM tasks WHERE user_id = 'carol'`, []),
      ).toBe(0);
    });

    it('turns 20 concurrent requests with one key into exactly one task', async () => {
      const clients = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const client = new Client({ connectionString: db.database.url });
          await client.connect();
          return client;
        }),
      );
      try {
        const answers = await Promise.all(
          clients.map(async (client) => {
            try {
              const { rows } = await client.query<TaskRow>(CREATE, [
                'dave',
                'Concurrent',
                'same-key',
                hashOf({ title: 'Concurrent' }),
                '/api/dave/tasks/',
                24,
              ]);
              return rows[0].id;
            } catch (error) {
              expect(error).toMatchObject({ code: '23505', constraint: 'pk_idempotency_keys' });
              const { rows } = await client.query<TaskRow>(REPLAY, ['dave', 'same-key']);
              return rows[0].id;
            }
          }),
        );
        expect(new Set(answers).size).toBe(1);
        expect(
          await countOf(`SELECT count(*)::int AS count FROM tasks WHERE user_id = 'dave'`, []),
        ).toBe(1);
      } finally {
        await Promise.all(clients.map((client) => client.end()));
      }
    });

    it('expires keys: an expired key is released for a new create, and purged in batches', async () => {
      await createWithKey('erin', 'old', 'First');
      await pool.query(
        `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE user_id = 'erin'`,
      );
      const blocked = await createWithKey('erin', 'old', 'Second');
      expect(blocked.task).toMatchObject({ expired: true });
      await pool.query(RELEASE_EXPIRED_KEY, ['erin', 'old']);
      expect(await createWithKey('erin', 'old', 'Second')).toMatchObject({ replayed: false });

      for (let n = 0; n < 5; n++) await createWithKey('erin', `stale-${n}`, `Stale ${n}`);
      await pool.query(
        `UPDATE idempotency_keys SET expires_at = now() - interval '1 hour'
          WHERE user_id = 'erin' AND key LIKE 'stale-%'`,
      );
      expect((await pool.query(PURGE_EXPIRED_KEYS, [3])).rowCount).toBe(3);
      expect((await pool.query(PURGE_EXPIRED_KEYS, [3])).rowCount).toBe(2);
      expect((await pool.query(PURGE_EXPIRED_KEYS, [3])).rowCount).toBe(0);
      const { rows } = await pool.query(`SELECT key FROM idempotency_keys WHERE user_id = 'erin'`);
      expect(rows).toEqual([{ key: 'old' }]);
    });
  });

  describe('trash', () => {
    it('purges old trash in bounded batches; two processes at once purge each row once', async () => {
      const owner = 'grace';
      const ids: string[] = [];
      for (let n = 0; n < 40; n++) ids.push((await insert(owner, `old ${n}`)).id);
      const recent = await insert(owner, 'trashed yesterday');
      const live = await insert(owner, 'live');
      await pool.query(
        `UPDATE tasks SET deleted_at = now() - interval '31 days' WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      await pool.query(`UPDATE tasks SET deleted_at = now() - interval '1 day' WHERE id = $1`, [
        recent.id,
      ]);

      const purge = purgeTrashStatement('tasks');
      const [first, second] = [new Client(db.database.url), new Client(db.database.url)];
      await Promise.all([first.connect(), second.connect()]);
      try {
        // Both batches are taken while the other is still open: SKIP LOCKED makes them disjoint.
        await first.query('BEGIN');
        await second.query('BEGIN');
        const a = await first.query<{ id: string }>(purge, [30, 15]);
        const b = await second.query<{ id: string }>(purge, [30, 15]);
        await Promise.all([first.query('COMMIT'), second.query('COMMIT')]);
        const purged = [...a.rows, ...b.rows].map((row) => row.id);
        expect(a.rowCount).toBe(15);
        expect(b.rowCount).toBe(15);
        expect(new Set(purged).size).toBe(30);

        const rest = await Promise.all([
          first.query(purge, [30, 15]),
          second.query(purge, [30, 15]),
        ]);
        const all = [...purged, ...rest.flatMap((result) => result.rows.map((row) => row.id))];
        expect(all.sort()).toEqual([...ids].sort());
      } finally {
        await Promise.all([first.end(), second.end()]);
      }
      const { rows } = await pool.query(`SELECT id FROM tasks WHERE user_id = $1 ORDER BY title`, [
        owner,
      ]);
      expect(rows.map((row) => row.id).sort()).toEqual([live.id, recent.id].sort());
      // One tombstone per purged row, for the changes feed.
      expect(
        await countOf(
          `SELECT count(*)::int AS count FROM tombstones WHERE user_id = $1 AND resource = 'tasks'`,
          [owner],
        ),
      ).toBe(40);
    });
  });

  describe('indexes', () => {
    it('serves live lists from the partial indexes and the trash from its own', async () => {
      await pool.query(`
        INSERT INTO tasks (user_id, title, completed, deleted_at)
        SELECT 'seed-' || (n % 200), 'task ' || n, n % 3 = 0,
               CASE WHEN n % 10 = 0 THEN now() - (n || ' minutes')::interval END
          FROM generate_series(1, 20000) n`);
      await pool.query('ANALYZE tasks');
      const plan = async (sql: string, parameters: unknown[]) => {
        const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, parameters);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      };
      expect(
        await plan(
          `SELECT ${RETURNING} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL
            ORDER BY created_at DESC, id DESC LIMIT 50`,
          ['seed-7'],
        ),
      ).toMatch(/Index (Only )?Scan using ix_tasks_user_id on tasks/);
      expect(
        await plan(
          `SELECT ${RETURNING} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL ORDER BY title, id LIMIT 50`,
          ['seed-7'],
        ),
      ).toMatch(/Index (Only )?Scan using ix_tasks_user_id_title on tasks/);
      const purgePlan = await plan(purgeTrashStatement('tasks'), [30, 500]);
      expect(purgePlan).toMatch(/Tid Scan on tasks/);
      expect(purgePlan).toMatch(/ix_tasks_trash_purge/);
    });
  });
});

describe('the sync, trash and idempotency migration', () => {
  it('reverts to the schema before it, and applies again', async () => {
    const database = await createTestDatabase();
    const dataSource = await openDataSource(database.url);
    const schema = () =>
      dataSource.query(`
        SELECT (SELECT json_agg(c ORDER BY c) FROM (SELECT column_name || ' ' || data_type AS c
                  FROM information_schema.columns WHERE table_name = 'tasks') cs) AS columns,
               (SELECT json_agg(i ORDER BY i) FROM (SELECT indexdef AS i FROM pg_indexes
                  WHERE schemaname = 'public') ix) AS indexes,
               (SELECT json_agg(t ORDER BY t) FROM (SELECT tgname::text AS t FROM pg_trigger
                  WHERE NOT tgisinternal) tg) AS triggers,
               (SELECT json_agg(p ORDER BY p) FROM (SELECT proname::text AS p FROM pg_proc
                  WHERE pronamespace = 'public'::regnamespace) pr) AS functions`);
    // Later migrations (the lists' sync triggers, any resource's) use the functions this one
    // creates: they are reverted first, newest first, and applied again after it.
    const migrations = MIGRATIONS.slice(MIGRATIONS.indexOf(AddSyncTrashAndIdempotency1733200000000))
      .reverse()
      .map((Migration) => new Migration());
    const queryRunner = dataSource.createQueryRunner();
    try {
      const after = await schema();
      for (const migration of migrations) await migration.down(queryRunner);
      const before = await schema();
      expect(before).not.toEqual(after);
      for (const migration of [...migrations].reverse()) await migration.up(queryRunner);
      expect(await schema()).toEqual(after);
      for (const migration of migrations) await migration.down(queryRunner);
      expect(await schema()).toEqual(before);
      for (const migration of [...migrations].reverse()) await migration.up(queryRunner);
    } finally {
      await queryRunner.release();
      await dataSource.destroy();
      await database.drop();
    }
  });
});
