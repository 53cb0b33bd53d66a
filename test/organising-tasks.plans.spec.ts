import { escapeLiteral } from 'pg';
import '../src/app.module';
import { compileStatement } from '../src/database/compiled-statements';
import type { TasksDataSource } from '../src/database/tasks-data-source';
import {
  INDEXED_TASK_FILTERS,
  type IndexedTaskFilter,
  LIST_ALL_TASKS,
  LIST_TASKS,
} from '../src/tasks/task-list.statements';
import { DELETE_TAG, LIST_TAGS, RENAME_TAG } from '../src/tasks/task-tags.statements';
import { TASK_SORTS, type TaskSort } from '../src/tasks/tasks.resource';
import { openDataSource } from './support/test-data-source';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/** A value as an SQL literal of unknown type (an array as its text form). */
const literal = (value: unknown): string =>
  value === undefined || value === null
    ? 'NULL'
    : escapeLiteral(
        Array.isArray(value) ? `{${value.map((item) => `"${item}"`).join(',')}}` : String(value),
      );

/** The index each sort reads, with no filter that picks an index of its own. */
const SORT_INDEX: Record<Exclude<TaskSort, 'relevance'>, string> = {
  created_at: 'ix_tasks_user_id',
  '-created_at': 'ix_tasks_user_id',
  updated_at: 'ix_tasks_user_id_updated_at',
  '-updated_at': 'ix_tasks_user_id_updated_at',
  title: 'ix_tasks_user_id_title',
  '-title': 'ix_tasks_user_id_title',
  priority: 'ix_tasks_user_id_priority',
  '-priority': 'ix_tasks_user_id_priority',
  due: 'ix_tasks_user_id_due',
  '-due': 'ix_tasks_user_id_due_desc',
};

/** The values of every filter, one at a time and all together. */
const FILTER_VALUES: Record<string, Record<string, unknown>> = {
  completed: { completed: true },
  listId: { listId: 'the list' },
  priorities: { priorities: ['high', 'low'] },
  tags: { tags: ['tag-3', 'TAG-5'] },
  dueFrom: { dueFrom: '2025-03-05' },
  dueTo: { dueTo: '2025-03-20' },
  hasDue: { hasDue: false },
  words: { words: ['12', 'not'] },
};

/** The statement the repository picks for `values`: the first indexed filter given. */
const indexedFilterOf = (values: Record<string, unknown>): IndexedTaskFilter =>
  INDEXED_TASK_FILTERS.find((name) => values[name] !== undefined) ?? 'none';

// specification §13: every filter and sort the list offers is served by an index whose first
// column is user_id; no plan reads the table in full, for first and later pages.
describe('the plans of the task list, every filter and sort', () => {
  let database: TestDatabase;
  let dataSource: TasksDataSource;
  let listId: string;
  let someId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await openDataSource(database.url);
    await dataSource.query(`
      INSERT INTO lists (user_id, name) SELECT 'seed-' || n, 'list' FROM generate_series(0, 99) n`);
    // 4 owners of 2,500 tasks: priorities, due dates (all-day, timed, none), tags, words. The
    // seed runs longer than a request may (the trigger computes every due_at and document).
    await dataSource.query(`
      SET statement_timeout = 0;
      INSERT INTO tasks (user_id, title, description, completed, list_id, priority, due_date,
                         due_time, time_zone, tags, deleted_at)
      SELECT 'seed-' || (n % 4), 'task ' || n || ' groceries', 'note ' || (n % 37), n % 3 = 0,
             CASE WHEN n % 4 = 0 THEN l.id END,
             (ARRAY['none', 'low', 'medium', 'high'])[n % 4 + 1]::task_priority,
             CASE WHEN n % 5 > 0 THEN date '2025-03-01' + n % 30 END,
             CASE WHEN n % 5 = 4 THEN time '09:00' END,
             CASE WHEN n % 5 = 4 THEN 'Europe/Berlin' END,
             ARRAY['tag-' || (n % 7), 'tag-' || (n % 11)],
             CASE WHEN n % 10 = 0 THEN now() END
        FROM generate_series(1, 10000) n JOIN lists l ON l.user_id = 'seed-' || (n % 4);
      RESET statement_timeout`);
    await dataSource.query('ANALYZE lists, tasks');
    listId = (await dataSource.query(`SELECT id FROM lists WHERE user_id = 'seed-3'`))[0].id;
    someId = (await dataSource.query(`SELECT id FROM tasks WHERE user_id = 'seed-3' LIMIT 1`))[0]
      .id;
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  /**
   * The plan a statement of `shape` runs with: for one that is prepared, its generic plan
   * (planned without the values, as a reused prepared statement may be); for the filtered
   * list, which is sent unnamed, the plan of the call's own values.
   */
  async function planOf(
    shape: Record<string, string | boolean>,
    values: Record<string, unknown>,
    definition: Parameters<typeof compileStatement>[1] = LIST_TASKS,
  ): Promise<string> {
    const { text, order, prepared } = compileStatement(dataSource, definition, shape);
    const runner = dataSource.createQueryRunner();
    try {
      let rows: { 'QUERY PLAN': string }[];
      if (prepared) {
        await runner.query('SET plan_cache_mode = force_generic_plan');
        await runner.query(`PREPARE probe AS ${text}`);
        rows = await runner.query(
          `EXPLAIN EXECUTE probe(${order.map((name) => literal(values[name])).join(', ')})`,
        );
      } else {
        rows = await runner.query(
          `EXPLAIN ${text}`,
          order.map((name) => values[name] ?? null),
        );
      }
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      await runner.query('DEALLOCATE ALL; RESET plan_cache_mode');
      await runner.release();
    }
  }

  /** A cursor's values for `sort`: a later page. */
  const afterOf = (sort: TaskSort): Record<string, unknown> => {
    const after: Record<TaskSort, unknown[]> = {
      created_at: [new Date().toISOString()],
      '-created_at': [new Date().toISOString()],
      updated_at: [new Date().toISOString()],
      '-updated_at': [new Date().toISOString()],
      title: ['task 5'],
      '-title': ['task 5'],
      priority: ['low'],
      '-priority': ['medium'],
      due: ['2025-03-10', null],
      '-due': ['2025-03-10', '2025-03-10T08:00:00.000Z'],
      relevance: ['true', new Date().toISOString()],
    };
    const [after0, after1] = after[sort];
    return { after0, after1, afterId: someId };
  };

  const cases = TASK_SORTS.flatMap((sort) =>
    ['none', ...Object.keys(FILTER_VALUES), 'all'].map((filter) => [sort, filter] as const),
  ).filter(([sort, filter]) => sort !== 'relevance' || filter === 'words' || filter === 'all');

  it.each(cases)(
    'sort=%s, filter %s: an index leading with user_id, no Seq Scan',
    async (sort, filter) => {
      const given =
        filter === 'all'
          ? Object.assign({}, ...Object.values(FILTER_VALUES))
          : { ...FILTER_VALUES[filter] };
      if (given.listId) given.listId = listId;
      const unfiltered = filter === 'none';
      const indexedFilter = indexedFilterOf(given);
      for (const resumed of [false, true]) {
        const values = { userId: 'seed-3', limit: 51, ...given, ...(resumed ? afterOf(sort) : {}) };
        // No filter: the prepared statement without any, planned once for every owner.
        const plan = unfiltered
          ? await planOf({ sort, resumed }, values, LIST_ALL_TASKS)
          : await planOf({ sort, indexedFilter, resumed }, values);
        expect(plan).not.toMatch(/Seq Scan/);
        expect(plan).toMatch(
          /(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) ix_tasks_/,
        );
        if (unfiltered) {
          // Read in the sort's order: no sort of the owner's rows, the page stops the scan.
          expect(plan).toMatch(
            new RegExp(
              `Index (Only )?Scan (Backward )?using ${SORT_INDEX[sort as keyof typeof SORT_INDEX]} on tasks`,
            ),
          );
          // The page budget's wrapper orders the page it kept (at most limit + 1 rows) by its ordinal.
          const sortKeys = plan.match(/Sort Key: .*/g) ?? [];
          expect(sortKeys.filter((key) => key !== 'Sort Key: page.page_ordinal')).toEqual([]);
        }
        // Search and tags are in the statement as plain predicates, which their GIN indexes
        // (ix_tasks_search, ix_tasks_tags) can serve; whether they do is the planner's call by
        // cost (docs/organising.md, "What the indexes do not promise").
      }
    },
  );

  it('the filtered list is planned per call; the unfiltered list and the tags statements are prepared, and their generic plans read an owner index', async () => {
    expect(LIST_TASKS.prepared).toBe(false);
    expect(LIST_ALL_TASKS.prepared).toBeUndefined();
    const plans = [
      await planOf(
        { resumed: true } as never,
        { userId: 'seed-3', afterKey: 'tag-3', limit: 51 },
        LIST_TAGS,
      ),
      await planOf({} as never, { userId: 'seed-3', name: 'tag-3', newName: 'x' }, RENAME_TAG),
      await planOf({} as never, { userId: 'seed-3', name: 'tag-3' }, DELETE_TAG),
    ];
    // The collection reads every live task of its owner (a quarter of this table: a Seq Scan is
    // the cheaper way here); a rename and a delete find theirs through an index.
    for (const plan of plans.slice(1)) {
      expect(plan).not.toMatch(/Seq Scan/);
      expect(plan).toMatch(/(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) ix_tasks_/);
    }
  });
});
