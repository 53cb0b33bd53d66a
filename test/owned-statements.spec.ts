import { allShapes, type StatementDefinition } from '../src/database/compiled-statements';
import type { TasksDataSource } from '../src/database/tasks-data-source';
import { List } from '../src/lists/list.entity';
import { TypeOrmListsRepository } from '../src/lists/lists.repository';
import type { OwnedEntity, OwnedResource } from '../src/owned-resources/owned-resource';
import { defineOwnedStatements } from '../src/owned-resources/owned-statements';
import { RESOURCE_MODULES } from '../src/resources';
import { Task } from '../src/tasks/task.entity';
import { TypeOrmTasksRepository } from '../src/tasks/tasks.repository';
import { openDataSource, StatementRecorder } from './support/test-data-source';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/** How many SQL texts a resource's owned statements have: one per shape of each. */
const statementCount = (statements: Record<string, StatementDefinition | undefined>): number =>
  Object.values(statements).reduce(
    (count, definition) => count + (definition ? allShapes(definition.shapes).length : 0),
    0,
  );

/**
 * `resource` with `extra` more fields, each insertable, updatable and a filter (`indexed`: an
 * indexed filter too), under a table name of its own (statement names are unique).
 */
function withMoreFields<E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
  extra: number,
  { indexed = false } = {},
): OwnedResource<E, string> {
  const fields = Array.from({ length: extra }, (_, n) => `extra${n}`) as (keyof E & string)[];
  return {
    ...resource,
    table: `${resource.table}_${extra}_${indexed ? 'indexed' : 'plain'}`,
    insertable: [...resource.insertable, ...fields],
    updatable: [...resource.updatable, ...fields],
    filters: [...resource.filters, ...fields],
    indexedFilters: [...(resource.indexedFilters ?? []), ...(indexed ? fields : [])],
  };
}

describe('owned statements: linear in fields', () => {
  // Every registered resource: the registry holds resources of different entities.
  const resources = RESOURCE_MODULES.map(
    ({ resource }): [string, OwnedResource<OwnedEntity, string>] => [
      resource.table,
      resource as unknown as OwnedResource<OwnedEntity, string>,
    ],
  );
  it.each(resources)(
    'adding fields to %s adds no statement, an indexed filter a constant',
    (_, base) => {
      const resource = base;
      const counts = [0, 1, 2, 4, 8].map((extra) => ({
        extra,
        plain: statementCount({ ...defineOwnedStatements(withMoreFields(resource, extra)) }),
        indexed: statementCount({
          ...defineOwnedStatements(withMoreFields(resource, extra, { indexed: true })),
        }),
      }));
      const [none] = counts;
      // An indexed filter adds the list statements of one more index: each sort, resumed or not.
      // Tasks list through a statement of their own (src/tasks/task-list.statements.ts), whose
      // shapes are fixed: sort × its indexed filters × resumed.
      const perIndexedFilter = resource.ownList ? 0 : Object.keys(resource.sorts).length * 2;
      for (const { extra, plain, indexed } of counts) {
        expect({ extra, plain }).toEqual({ extra, plain: none.plain });
        expect({ extra, indexed }).toEqual({
          extra,
          indexed: none.plain + extra * perIndexedFilter,
        });
      }
    },
  );
});

describe('owned statements: one write sets only the fields it was sent', () => {
  let database: TestDatabase;
  let dataSource: TasksDataSource;
  let inspector: TasksDataSource;
  let tasks: TypeOrmTasksRepository;
  let lists: TypeOrmListsRepository;
  const recorder = new StatementRecorder();
  const owner = 'user-fields';

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await openDataSource(database.url, recorder);
    inspector = await openDataSource(database.url);
    tasks = new TypeOrmTasksRepository(dataSource.getRepository(Task));
    lists = new TypeOrmListsRepository(dataSource.getRepository(List));
  });
  afterAll(async () => {
    await dataSource.destroy();
    await inspector.destroy();
    await database.drop();
  });

  const rawRow = async (id: string): Promise<Record<string, unknown>> =>
    (await inspector.query('SELECT * FROM tasks WHERE id = $1', [id]))[0];

  /**
   * The row without what every write changes (the version, the timestamps it stamps) and the
   * search document, which PostgreSQL derives from the title and the description.
   */
  const unchangedPart = ({
    version: _version,
    updated_at: _updatedAt,
    change_xid: _changeXid,
    search: _search,
    ...rest
  }: Record<string, unknown>) => rest;

  /** The texts of the statements sent while `work` runs. */
  async function textsOf(work: () => Promise<unknown>): Promise<string[]> {
    const from = recorder.statements.length;
    await work();
    return recorder.statements.slice(from).map((statement) => statement.sql);
  }

  async function fullTask() {
    const list = await lists.create(owner, { name: 'Errands' });
    const task = await tasks.create(owner, {
      title: 'Full',
      description: 'every field set',
      completed: true,
      listId: list.id,
    });
    return { list, task };
  }

  it('an update of one field leaves every other column as it was, with one text for all', async () => {
    const { task } = await fullTask();
    const patches = [
      { title: 'Renamed' },
      { description: 'another text' },
      { completed: false },
      { listId: null },
    ] as const;
    const texts = new Set<string>();
    for (const patch of patches) {
      const before = await rawRow(task.id);
      for (const text of await textsOf(() => tasks.update(owner, task.id, patch))) texts.add(text);
      const after = await rawRow(task.id);
      const [[property, value]] = Object.entries(patch);
      const column = property === 'listId' ? 'list_id' : property;
      expect(after[column]).toEqual(value);
      expect(after.version).toBe((before.version as number) + 1);
      expect(unchangedPart({ ...after, [column]: undefined })).toEqual(
        unchangedPart({ ...before, [column]: undefined }),
      );
    }
    // Four different subsets of fields, one statement.
    expect(texts.size).toBe(1);
  });

  it('description: null clears the description and nothing else', async () => {
    const { task } = await fullTask();
    const before = await rawRow(task.id);
    const updated = await tasks.update(owner, task.id, { description: null });
    expect(updated).toMatchObject({ title: 'Full', description: null, completed: true });
    const after = await rawRow(task.id);
    expect(after.description).toBeNull();
    expect(unchangedPart({ ...after, description: null })).toEqual(
      unchangedPart({ ...before, description: null }),
    );
  });

  it('a create takes the column defaults for the fields it was not sent', async () => {
    const texts = await textsOf(async () => {
      const bare = await tasks.create(owner, { title: 'Only a title' });
      expect(await rawRow(bare.id)).toMatchObject({
        title: 'Only a title',
        description: null,
        completed: false,
        list_id: null,
        version: 1,
        deleted_at: null,
      });
      const { task } = await fullTask();
      expect(await rawRow(task.id)).toMatchObject({
        description: 'every field set',
        completed: true,
      });
    });
    const creates = texts.filter((text) => text.startsWith('INSERT INTO "tasks"'));
    expect(creates).toHaveLength(2);
    expect(new Set(creates).size).toBe(1);
  });

  it('a bulk update sets the field it was sent and leaves the other', async () => {
    const { list, task } = await fullTask();
    const [uncompleted] = await tasks.bulkUpdate(owner, [task.id], { completed: false });
    expect(uncompleted).toMatchObject({ completed: false, listId: list.id });
    const [moved] = await tasks.bulkUpdate(owner, [task.id], { listId: null });
    expect(moved).toMatchObject({ completed: false, listId: null });
    expect(await rawRow(task.id)).toMatchObject({ title: 'Full', completed: false, list_id: null });
  });

  it('filters by either, both or neither, whichever statement serves it', async () => {
    const filterOwner = 'user-filters';
    const list = await lists.create(filterOwner, { name: 'Groceries' });
    const made = [
      { title: 'listed done', completed: true, listId: list.id },
      { title: 'listed open', completed: false, listId: list.id },
      { title: 'loose done', completed: true },
      { title: 'loose open', completed: false },
    ];
    for (const input of made) await tasks.create(filterOwner, input);
    const titles = async (where: { completed?: boolean; listId?: string }) =>
      (await tasks.list(filterOwner, { sort: 'title', limit: 10, filters: where })).items.map(
        (task) => task.title,
      );
    expect(await titles({})).toEqual(['listed done', 'listed open', 'loose done', 'loose open']);
    expect(await titles({ completed: true })).toEqual(['listed done', 'loose done']);
    expect(await titles({ listId: list.id })).toEqual(['listed done', 'listed open']);
    expect(await titles({ completed: false, listId: list.id })).toEqual(['listed open']);
  });
});
