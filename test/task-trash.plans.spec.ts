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

const byName = (name: string): StatementDefinition => {
  const definition = declaredStatements().find((statement) => statement.name === name);
  if (!definition) throw new Error(`no statement ${name}`);
  return definition;
};

// specification §11, docs/sync.md "Plans": with one task in ten in the trash, the statements the
// service sends still read live tasks through the partial indexes, and the trash through its own.
describe('the plans of the task statements, with a trash', () => {
  let database: TestDatabase;
  let dataSource: TasksDataSource;
  let someId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await openDataSource(database.url);
    await dataSource.query(`
      INSERT INTO tasks (user_id, title, completed, deleted_at)
      SELECT 'seed-' || (n % 200), 'task ' || n, n % 3 = 0,
             CASE WHEN n % 10 = 0 THEN now() - (n || ' minutes')::interval END
        FROM generate_series(1, 20000) n`);
    await dataSource.query('ANALYZE tasks');
    someId = (await dataSource.query(`SELECT id FROM tasks WHERE user_id = 'seed-7' LIMIT 1`))[0]
      .id;
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  /** The plan of a compiled statement of `shape`, with `values` bound by name. */
  async function planOf(
    definition: StatementDefinition,
    shape: Record<string, string | boolean>,
    values: Record<string, unknown>,
  ): Promise<string> {
    const { text, order } = compileStatement(dataSource, definition, shape);
    const rows: { 'QUERY PLAN': string }[] = await dataSource.query(
      `EXPLAIN ${text}`,
      order.map((name) => values[name]),
    );
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  }

  const owner = { userId: 'seed-7', limit: 51 };

  it.each([
    ['-created_at', 'ix_tasks_user_id'],
    ['title', 'ix_tasks_user_id_title'],
    ['-updated_at', 'ix_tasks_user_id_updated_at'],
  ])('the live list sort=%s reads the partial index %s', async (sort, index) => {
    const plan = await planOf(byName('tasks.list'), { sort, filters: '', resumed: false }, owner);
    expect(plan).toMatch(new RegExp(`Index (Only )?Scan (Backward )?using ${index} on tasks`));
    expect(plan).not.toMatch(/Seq Scan/);
  });

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
        { fields: 'completed,listId' },
        {
          ...owner,
          ids: [someId],
          completed: true,
          listId: null,
        },
      ),
      await planOf(CLEAR_COMPLETED, { inList: false }, owner),
    ];
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
  });
});
