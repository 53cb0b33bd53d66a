import { Client } from 'pg';
import {
  CompiledStatements,
  defineStatement,
  sqlText,
  type StatementDefinition,
} from '../src/database/compiled-statements';
import { DataLayerError } from '../src/database/data-layer.errors';
import { buildDataSourceOptions } from '../src/database/database-options';
import { poolOf } from '../src/database/pg-pool';
import { TasksDataSource } from '../src/database/tasks-data-source';
import { ENTITIES } from '../src/entities';
import { Task } from '../src/tasks/task.entity';
import { openDataSource } from './support/test-data-source';
import { createTestDatabase, TestDatabase } from './support/test-database';

const INSERT = defineStatement({
  name: 'compiled-statements-spec.insert',
  shapes: {},
  build: (dataSource, _shape, p) =>
    dataSource
      .createQueryBuilder()
      .insert()
      .into(Task)
      .values({ userId: p('userId'), title: p('title') })
      .returning('"id" AS "id"'),
});

/** The statements prepared on the connection that runs it (a session's own view). */
const PREPARED_NAMES = defineStatement({
  name: 'compiled-statements-spec.prepared',
  shapes: {},
  build: () => sqlText('SELECT name FROM pg_prepared_statements ORDER BY name', []),
});

const COUNT = defineStatement({
  name: 'compiled-statements-spec.count',
  shapes: { completed: [false, true] },
  build: (dataSource, shape, p) => {
    const builder = dataSource
      .createQueryBuilder(Task, 'task')
      .select('count(*)::int AS "count"')
      .where('user_id = :userId', { userId: p('userId') });
    return shape.completed ? builder.andWhere('completed') : builder;
  },
});

describe('CompiledStatements', () => {
  let database: TestDatabase;
  let dataSource: TasksDataSource;
  let statements: CompiledStatements;
  let inspector: Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await openDataSource(database.url);
    statements = new CompiledStatements(dataSource, {
      ck_tasks_title_not_blank: { field: 'title', message: 'title must not be blank' },
    });
    inspector = new Client({ connectionString: database.url });
    await inspector.connect();
  });
  afterAll(async () => {
    await inspector.end();
    await dataSource.destroy();
    await database.drop();
  });

  const countOf = async (userId: string): Promise<number> =>
    (
      await statements.rows<{ count: number }, typeof COUNT.shapes>(
        COUNT,
        { completed: false },
        {
          userId,
        },
      )
    )[0].count;

  it('caches one text per shape: the shape, not the caller, decides the SQL', async () => {
    await statements.rows(INSERT, {}, { userId: 'shapes', title: 'a' });
    expect(await countOf('shapes')).toBe(1);
    const done = await statements.rows<{ count: number }, typeof COUNT.shapes>(
      COUNT,
      { completed: true },
      { userId: 'shapes' },
    );
    expect(done[0].count).toBe(0);
  });

  it('refuses a shape outside the declared space, and a literal bound instead of a parameter', async () => {
    const anyShape: StatementDefinition = COUNT;
    await expect(statements.rows(anyShape, { completed: 'yes' }, { userId: 'x' })).rejects.toThrow(
      /has no shape with completed=yes/,
    );
    const literal: StatementDefinition = {
      name: 'compiled-statements-spec.literal',
      shapes: {},
      build: (source) =>
        source.createQueryBuilder(Task, 'task').where('user_id = :userId', { userId: 'alice' }),
    };
    await expect(statements.rows(literal, {}, {})).rejects.toThrow(/not a named parameter/);
    expect(() => defineStatement({ ...literal, name: INSERT.name })).toThrow(/Two statements/);
  });

  it('runs several statements in one transaction: all of them, or none', async () => {
    await statements.transaction(async (run) => {
      await run.rows(INSERT, {}, { userId: 'together', title: 'one' });
      await run.rows(INSERT, {}, { userId: 'together', title: 'two' });
    });
    expect(await countOf('together')).toBe(2);

    const failed = statements.transaction(async (run) => {
      await run.rows(INSERT, {}, { userId: 'apart', title: 'kept?' });
      await run.rows(INSERT, {}, { userId: 'apart', title: '   ' });
    });
    await expect(failed).rejects.toBeInstanceOf(DataLayerError);
    await expect(failed).rejects.toMatchObject({ field: 'title', sqlState: '23514' });
    const { rows } = await inspector.query(
      "SELECT count(*)::int AS n FROM tasks WHERE user_id = 'apart'",
    );
    expect(rows[0].n).toBe(0);
    // The connection went back to the pool in a clean state, outside any transaction.
    expect(await countOf('together')).toBe(2);
  });

  it.each([true, false])(
    'with DATABASE_PREPARED_STATEMENTS=%s, prepares each statement by name once per connection, or never',
    async (preparedStatements) => {
      // One connection, so that every statement runs in the session it inspects.
      const single = await new TasksDataSource(
        buildDataSourceOptions(
          {
            url: database.url,
            poolMax: 1,
            connectTimeoutMs: 5000,
            statementTimeoutMs: 5000,
            preparedStatements,
          },
          ENTITIES,
        ),
      ).initialize();
      try {
        const runner = new CompiledStatements(single);
        for (let run = 0; run < 3; run++) {
          await runner.rows(COUNT, { completed: false }, { userId: 'prepared' });
          await runner.rows(COUNT, { completed: true }, { userId: 'prepared' });
        }
        const names = (
          await runner.rows<{ name: string }, Record<string, never>>(PREPARED_NAMES, {}, {})
        ).map((row) => row.name.replace(/:.*/, ':…'));
        expect(names).toEqual(
          preparedStatements
            ? [
                'compiled-statements-spec.count:…',
                'compiled-statements-spec.count:…',
                'compiled-statements-spec.prepared:…',
              ]
            : [],
        );
      } finally {
        await single.destroy();
      }
    },
  );

  it('reaches the pool of the DataSource in one place', () => {
    expect(poolOf(dataSource)?.totalCount).toBeGreaterThan(0);
  });
});
