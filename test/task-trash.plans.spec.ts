import { escapeLiteral } from 'pg';
import '../src/app.module';
import {
  compileStatement,
  declaredStatements,
  type StatementDefinition,
} from '../src/database/compiled-statements';
import type { TasksDataSource } from '../src/database/tasks-data-source';
import {
  BULK_UPDATE,
  CLEAR_COMPLETED,
  LIST_TRASH,
  RESTORE_TASK,
  TRASH_TASK,
} from '../src/tasks/task-trash.statements';
import { openDataSource } from './support/test-data-source';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/** A value as an SQL literal of unknown type (an array as its text form). */
const literal = (value: unknown): string =>
  value === undefined || value === null
    ? 'NULL'
    : escapeLiteral(Array.isArray(value) ? `{${value.join(',')}}` : String(value));

const byName = (name: string): StatementDefinition => {
  const definition = declaredStatements().find((statement) => statement.name === name);
  if (!definition) throw new Error(`no statement ${name}`);
  return definition;
};

// specification §11, docs/sync.md "Plans": with one task in ten in the trash, the statements the
// service sends still read live tasks through the partial indexes, and the trash through its own.
// Statements are prepared by name and reused per connection, so PostgreSQL may run any of them
// with its generic plan (planned without the values): that plan is the one checked here.
describe('the generic plans of the task statements, with a trash', () => {
  let database: TestDatabase;
  let dataSource: TasksDataSource;
  let someId: string;
  let someListId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await openDataSource(database.url);
    // Each owner has a list, and one task in four is in it.
    await dataSource.query(`
      INSERT INTO lists (user_id, name) SELECT 'seed-' || n, 'list' FROM generate_series(0, 199) n`);
    await dataSource.query(`
      INSERT INTO tasks (user_id, title, completed, list_id, deleted_at)
      SELECT 'seed-' || (n % 200), 'task ' || n, n % 3 = 0,
             CASE WHEN n % 4 = 0 THEN (SELECT id FROM lists WHERE user_id = 'seed-' || (n % 200)) END,
             CASE WHEN n % 10 = 0 THEN now() - (n || ' minutes')::interval END
        FROM generate_series(1, 20000) n`);
    await dataSource.query('ANALYZE lists, tasks');
    someId = (await dataSource.query(`SELECT id FROM tasks WHERE user_id = 'seed-7' LIMIT 1`))[0]
      .id;
    someListId = (await dataSource.query(`SELECT id FROM lists WHERE user_id = 'seed-7'`))[0].id;
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  /**
   * The generic plan of a compiled statement of `shape`, prepared as the service prepares it
   * (no parameter types given), executed with `values` by name (as literals: EXECUTE, a utility
   * statement, takes no bound parameters).
   */
  async function planOf(
    definition: StatementDefinition,
    shape: Record<string, string | boolean>,
    values: Record<string, unknown>,
  ): Promise<string> {
    const { text, order } = compileStatement(dataSource, definition, shape);
    const runner = dataSource.createQueryRunner();
    try {
      // A statement sent unnamed (`prepared: false`) is planned with each call's values.
      const mode = definition.prepared === false ? 'force_custom_plan' : 'force_generic_plan';
      await runner.query(`SET plan_cache_mode = ${mode}`);
      await runner.query(`PREPARE probe AS ${text}`);
      const rows: { 'QUERY PLAN': string }[] = await runner.query(
        `EXPLAIN EXECUTE probe(${order.map((name) => literal(values[name])).join(', ')})`,
      );
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      await runner.query('DEALLOCATE ALL; RESET plan_cache_mode');
      await runner.release();
    }
  }

  const owner = { userId: 'seed-7', limit: 51 };

  it.each([
    ['-created_at', 'ix_tasks_user_id'],
    ['title', 'ix_tasks_user_id_title'],
    ['-updated_at', 'ix_tasks_user_id_updated_at'],
  ])('the live list sort=%s reads the partial index %s', async (sort, index) => {
    const shape = { sort, indexedFilter: 'none', resumed: false };
    const plan = await planOf(byName('tasks.list'), shape, owner);
    expect(plan).toMatch(new RegExp(`Index (Only )?Scan (Backward )?using ${index} on tasks`));
    expect(plan).not.toMatch(/Seq Scan/);
    // Filtered to a third of the owner's 90 live tasks, the page (51) holds them all: the list is
    // planned with its values, and reading them through a partial index of live tasks and sorting
    // those 30 is as good as reading them in order.
    const completed = await planOf(byName('tasks.list'), shape, { ...owner, completed: true });
    expect(completed).toMatch(
      /(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) ix_tasks_/,
    );
    expect(completed).not.toMatch(/Seq Scan/);
  });

  it.each(['-created_at', 'title', '-updated_at'])(
    "a list's tasks, sort=%s, are read through ix_tasks_user_id_list_id",
    async (sort) => {
      for (const resumed of [false, true]) {
        const plan = await planOf(
          byName('tasks.list'),
          { sort, indexedFilter: 'listId', resumed },
          {
            ...owner,
            listId: someListId,
            after0: sort === 'title' ? 'task' : new Date().toISOString(),
            afterId: someId,
          },
        );
        expect(plan).toMatch(/Index (Only )?Scan (Backward )?using ix_tasks_user_id_list_id\b/);
        expect(plan).not.toMatch(/Seq Scan/);
      }
    },
  );

  it('the trash, first and later pages, reads ix_tasks_trash', async () => {
    for (const resumed of [false, true]) {
      const plan = await planOf(
        LIST_TRASH,
        { resumed },
        {
          ...owner,
          afterValue: new Date().toISOString(),
          afterId: someId,
        },
      );
      expect(plan).toMatch(/(Index (Only )?Scan using|Bitmap Index Scan on) ix_tasks_trash\b/);
      expect(plan).not.toMatch(/Seq Scan/);
    }
  });

  it('the writes of one task, bulk changes and clear completed never scan the table', async () => {
    const plans = [
      await planOf(TRASH_TASK, { checked: true }, { ...owner, id: someId, expectedVersion: 1 }),
      await planOf(RESTORE_TASK, {}, { ...owner, id: someId }),
      await planOf(
        BULK_UPDATE,
        {},
        { ...owner, ids: [someId], fieldsSent: ['completed'], completed: true, listId: null },
      ),
      await planOf(
        byName('tasks.update'),
        { checked: true },
        { ...owner, id: someId, expectedVersion: 1, fieldsSent: ['title'], title: 'x' },
      ),
      await planOf(byName('tasks.toggleCompleted'), { checked: false }, { ...owner, id: someId }),
      await planOf(CLEAR_COMPLETED, { inList: false }, owner),
      await planOf(CLEAR_COMPLETED, { inList: true }, { ...owner, listId: someListId }),
    ];
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
  });
});
