import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AddSyncTrashAndIdempotency1733200000000 } from '../migrations/1733200000000-add-sync-trash-and-idempotency';
import { CreateLists1733000000000 } from '../migrations/1733000000000-create-lists';
import { CreateTasks1732406400000 } from '../migrations/1732406400000-create-tasks';
import { AddRemindersAndLiveEvents1733500000000 } from '../migrations/1733500000000-add-reminders-and-live-events';
import { OrganiseTasks1733400000000 } from '../migrations/1733400000000-organise-tasks';
import { AddRecurrence1733600000000 } from '../migrations/1733600000000-add-recurrence';
import { MIGRATIONS } from '../migrations';
import { TasksDataSource } from '../src/database/tasks-data-source';
import { startTestApp } from './support/test-app';
import { openDataSource } from './support/test-data-source';
import { adminQuery, TEST_ADMIN_URL_VAR, withDatabase } from './support/test-database';

const run = promisify(execFile);

/** Everything about `table` that the migrations own, in a comparable form. */
async function tableSchema(dataSource: TasksDataSource, table: string): Promise<unknown> {
  const [columns, constraints, indexes, triggers] = await Promise.all([
    dataSource.query(
      `SELECT column_name, data_type, character_maximum_length, datetime_precision, is_nullable, column_default
         FROM information_schema.columns WHERE table_name = $1 ORDER BY column_name`,
      [table],
    ),
    dataSource.query(
      `SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
        WHERE conrelid = $1::regclass ORDER BY conname`,
      [table],
    ),
    dataSource.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`,
      [table],
    ),
    dataSource.query(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`,
      [table],
    ),
  ]);
  return { columns, constraints, indexes, triggers };
}

/** The schema of every entity's table. */
const schemaOf = async (dataSource: TasksDataSource): Promise<Record<string, unknown>> => {
  const schema: Record<string, unknown> = {};
  for (const { tableName } of dataSource.entityMetadatas) {
    schema[tableName] = await tableSchema(dataSource, tableName);
  }
  return schema;
};

interface TableSchema {
  columns: { column_name: string; is_nullable: string; column_default: string | null }[];
  constraints: { conname: string; definition: string }[];
  indexes: { indexname: string; indexdef: string }[];
  triggers: { tgname: string }[];
}

const ALL_MIGRATIONS = MIGRATIONS.map((migration) => migration.name);

// FR-005/006/007/009/014: versioned migrations build the schema, idempotently and reversibly.
describe('migrations', () => {
  const adminUrl = (): string => process.env[TEST_ADMIN_URL_VAR] as string;
  const name = `tasks_migrations_${process.pid}`;
  let dataSource: TasksDataSource;

  beforeAll(async () => {
    await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await adminQuery(adminUrl(), `CREATE DATABASE ${name}`);
    dataSource = await openDataSource(withDatabase(adminUrl(), name));
  });

  afterAll(async () => {
    await dataSource.destroy();
    await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  it('creates the tables of specification §1 and §8, and a second run is a no-op', async () => {
    const applied = await dataSource.runMigrations();
    expect(applied.map((migration) => migration.name)).toEqual(ALL_MIGRATIONS);
    const both = (await schemaOf(dataSource)) as { tasks: TableSchema; lists: TableSchema };
    const schema = both.tasks;

    expect(schema.columns.map((column) => column.column_name)).toEqual([
      'change_xid',
      'completed',
      'created_at',
      'deleted_at',
      'description',
      'due_at',
      'due_date',
      'due_time',
      'id',
      'list_id',
      'next_id',
      'previous_id',
      'priority',
      'recurrence',
      'recurrence_count',
      'remind_at',
      'reminded_at',
      'search',
      'tags',
      'time_zone',
      'title',
      'upcoming',
      'updated_at',
      'user_id',
      'version',
    ]);
    const column = (name: string) => schema.columns.find((c) => c.column_name === name);
    expect(column('user_id')).toMatchObject({ is_nullable: 'NO', character_maximum_length: 255 });
    expect(column('description')).toMatchObject({ is_nullable: 'YES' });
    expect(column('id')?.column_default).toBe('gen_random_uuid()');
    expect(column('completed')?.column_default).toBe('false');
    expect(column('version')?.column_default).toBe('1');
    expect(column('created_at')?.column_default).toBe('now()');
    expect(schema.triggers).toEqual(
      expect.arrayContaining([
        { tgname: 'update_tasks_updated_at' },
        { tgname: 'stamp_tasks_change_xid' },
        { tgname: 'stamp_tasks_change_xid_on_update' },
        { tgname: 'record_tasks_tombstone' },
        { tgname: 'set_tasks_derived_columns' },
        { tgname: 'arm_tasks_reminder' },
        { tgname: 'notify_tasks_change' },
      ]),
    );
    expect(schema.triggers).toHaveLength(7);
    const userIndex = schema.indexes.find((index) => index.indexname === 'ix_tasks_user_id');
    expect(userIndex?.indexdef).toMatch(/\(user_id, created_at DESC, id DESC\)/);
    expect(schema.constraints.map((constraint) => constraint.conname)).toEqual(
      expect.arrayContaining([
        'ck_tasks_title_not_blank',
        'ck_tasks_user_id_not_blank',
        'pk_tasks',
      ]),
    );

    // specification §8: a task can only be in a list of its own owner, and goes with the list.
    expect(schema.constraints).toContainEqual({
      conname: 'fk_tasks_list',
      definition: 'FOREIGN KEY (user_id, list_id) REFERENCES lists(user_id, id) ON DELETE CASCADE',
    });
    expect(column('list_id')).toMatchObject({ is_nullable: 'YES' });
    const lists = both.lists;
    expect(lists.columns.map((c) => c.column_name)).toEqual([
      'change_xid',
      'created_at',
      'id',
      'name',
      'updated_at',
      'user_id',
      'version',
    ]);
    expect(lists.constraints.map((constraint) => constraint.conname)).toEqual(
      expect.arrayContaining(['ck_lists_name_not_blank', 'pk_lists', 'uq_lists_user_id_id']),
    );
    expect(lists.triggers).toEqual([
      { tgname: 'update_lists_updated_at' },
      { tgname: 'stamp_lists_change_xid' },
      { tgname: 'record_lists_tombstone' },
    ]);

    expect(await dataSource.runMigrations()).toEqual([]);
    expect(await schemaOf(dataSource)).toEqual(both);
  });

  it('refuses a blank title and a blank owner at the database, even from raw SQL', async () => {
    for (const [userId, title] of [
      ['someone', ''],
      ['someone', '   '],
      ['', 'title'],
      [' ', 'title'],
    ]) {
      await expect(
        dataSource.query('INSERT INTO tasks (user_id, title) VALUES ($1, $2)', [userId, title]),
      ).rejects.toMatchObject({ code: '23514' });
    }
    await expect(
      dataSource.query('INSERT INTO tasks (user_id, title) VALUES (NULL, $1)', ['title']),
    ).rejects.toMatchObject({ code: '23502' });
    const [{ count }] = await dataSource.query('SELECT count(*)::int AS count FROM tasks');
    expect(count).toBe(0);
  });

  it('reverts to nothing, and running again restores the same schema', async () => {
    const before = await schemaOf(dataSource);
    const exists = async (table: string): Promise<boolean> =>
      (await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS exists`, [table]))[0].exists;
    /** Reverts the newest migrations, one at a time, through `migration`. */
    const revertThrough = async (migration: { name: string }): Promise<void> => {
      const applied = async (): Promise<string[]> =>
        (await dataSource.query(`SELECT name FROM migrations`)).map(
          (row: { name: string }) => row.name,
        );
      while ((await applied()).includes(migration.name)) await dataSource.undoLastMigration();
    };

    // Reverting recurrence drops its columns, keeping the tasks (a series becomes its tasks).
    await dataSource.query(
      `INSERT INTO tasks (user_id, title, priority, tags, due_date, recurrence, upcoming)
       VALUES ('kept', 'kept', 'high', '{a}', '2025-01-01', 'FREQ=DAILY', '{2025-01-02}')`,
    );
    await revertThrough(AddRecurrence1733600000000);
    const [once] = await dataSource.query(`SELECT * FROM tasks WHERE user_id = 'kept'`);
    expect(once).toMatchObject({ title: 'kept', priority: 'high' });
    for (const column of ['recurrence', 'recurrence_count', 'upcoming', 'next_id', 'previous_id']) {
      expect(once).not.toHaveProperty(column);
    }

    // Reverting reminders and live events drops their columns, triggers and table.
    await revertThrough(AddRemindersAndLiveEvents1733500000000);
    expect(await exists('stream_tickets')).toBe(false);
    const [reminderless] = await dataSource.query(`SELECT * FROM tasks WHERE user_id = 'kept'`);
    expect(reminderless).not.toHaveProperty('remind_at');

    // Reverting the organising fields drops their columns and functions, keeping the tasks.
    await revertThrough(OrganiseTasks1733400000000);
    const [plain] = await dataSource.query(`SELECT * FROM tasks WHERE user_id = 'kept'`);
    expect(plain).toMatchObject({ title: 'kept' });
    for (const column of ['priority', 'due_date', 'due_at', 'tags', 'search']) {
      expect(plain).not.toHaveProperty(column);
    }
    const [{ leftovers }] = await dataSource.query(
      `SELECT count(*)::int AS leftovers FROM pg_proc WHERE proname LIKE 'task\\_%' OR proname = 'set_task_derived_columns'`,
    );
    expect(leftovers).toBe(0);

    // Reverting the sync additions drops their tables and columns, keeping live tasks.
    await revertThrough(AddSyncTrashAndIdempotency1733200000000);
    expect(await exists('tombstones')).toBe(false);
    expect(await exists('idempotency_keys')).toBe(false);
    const [trashless] = await dataSource.query(`SELECT * FROM tasks WHERE user_id = 'kept'`);
    expect(trashless).not.toHaveProperty('deleted_at');
    expect(trashless).not.toHaveProperty('change_xid');

    // Reverting lists keeps the tasks, out of any list.
    await revertThrough(CreateLists1733000000000);
    expect(await exists('lists')).toBe(false);
    const [kept] = await dataSource.query(`SELECT * FROM tasks WHERE user_id = 'kept'`);
    expect(kept).toMatchObject({ title: 'kept' });
    expect(kept).not.toHaveProperty('list_id');
    await dataSource.query(`DELETE FROM tasks`);

    await revertThrough(CreateTasks1732406400000);
    expect(await exists('tasks')).toBe(false);
    // Every migration's down() took away what its up() made.
    const tables = await dataSource.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations'`,
    );
    expect(tables).toEqual([]);
    const [{ functions }] = await dataSource.query(
      `SELECT count(*)::int AS functions FROM pg_proc WHERE proname = 'set_tasks_updated_at'`,
    );
    expect(functions).toBe(0);

    await dataSource.runMigrations();
    expect(await schemaOf(dataSource)).toEqual(before);
  });

  it('serialises concurrent runners with the advisory lock', async () => {
    await dataSource.undoLastMigration();
    const runners = await Promise.all(
      [1, 2, 3].map(() => openDataSource(withDatabase(adminUrl(), name))),
    );
    try {
      const results = await Promise.all(runners.map((runner) => runner.runMigrations()));
      expect(results.map((applied) => applied.length).sort()).toEqual([0, 0, 1]);
    } finally {
      await Promise.all(runners.map((runner) => runner.destroy()));
    }
    const [{ count }] = await dataSource.query('SELECT count(*)::int AS count FROM migrations');
    expect(count).toBe(ALL_MIGRATIONS.length);
  });

  it('runs through the TypeORM CLI and ormconfig.ts (npm run migration:show)', async () => {
    const { stdout } = await run(
      'npx',
      ['typeorm-ts-node-commonjs', '-d', 'ormconfig.ts', 'migration:show'],
      {
        env: { ...process.env, DATABASE_URL: withDatabase(adminUrl(), name), NODE_ENV: 'test' },
        timeout: 60_000,
      },
    );
    expect(stdout).toMatch(/\[X\] \d+ CreateTasks1732406400000/);
    expect(stdout).toMatch(/\[X\] \d+ CreateLists1733000000000/);
  }, 90_000);

  it('without a database URL, the CLI says in one line what to set (no stack trace)', async () => {
    const environment = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('DATABASE_')),
    );
    const show = run('npx', ['typeorm-ts-node-commonjs', '-d', 'ormconfig.ts', 'migration:show'], {
      env: { ...environment, NODE_ENV: 'test' },
      timeout: 60_000,
    });
    const failure = (await show.then(
      () => null,
      (error: unknown) => error,
    )) as { code: number; stderr: string } | null;
    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^Set DATABASE_URL \(or DATABASE_DIRECT_URL\) .*npm run -s db:url/),
    ]);
  }, 90_000);

  it('has an entity that matches the migrated schema (migration:generate finds nothing)', async () => {
    const generate = run(
      'npx',
      [
        'typeorm-ts-node-commonjs',
        '-d',
        'ormconfig.ts',
        'migration:generate',
        'migrations/Drift',
        '--dr',
      ],
      {
        env: { ...process.env, DATABASE_URL: withDatabase(adminUrl(), name), NODE_ENV: 'test' },
        timeout: 60_000,
      },
    );
    // The CLI exits 1 when there is nothing to generate.
    await expect(generate).rejects.toMatchObject({
      stdout: expect.stringMatching(/No changes in database schema were found/),
    });
  }, 90_000);

  it('at start-up (DB_MIGRATIONS_RUN) migrates over DATABASE_DIRECT_URL, not the pooled URL', async () => {
    const empty = `tasks_direct_${process.pid}`;
    await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${empty} WITH (FORCE)`);
    await adminQuery(adminUrl(), `CREATE DATABASE ${empty}`);
    const app = await startTestApp({
      DB_MIGRATIONS_RUN: 'true',
      DATABASE_DIRECT_URL: withDatabase(adminUrl(), empty),
    });
    try {
      const direct = await openDataSource(withDatabase(adminUrl(), empty));
      const [{ count }] = await direct.query('SELECT count(*)::int AS count FROM migrations');
      await direct.destroy();
      expect(count).toBe(ALL_MIGRATIONS.length);
    } finally {
      await app.close();
      await adminQuery(adminUrl(), `DROP DATABASE IF EXISTS ${empty} WITH (FORCE)`);
    }
  });
});
