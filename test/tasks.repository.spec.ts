import { DataLayerError } from '../src/database/data-layer.errors';
import { TasksDataSource } from '../src/database/tasks-data-source';
import { Task } from '../src/tasks/task.entity';
import {
  InvalidInputError,
  ResourceNotFoundError,
  VersionConflictError,
} from '../src/database/resource.errors';
import { TypeOrmTasksRepository } from '../src/tasks/tasks.repository';
import { openDataSource, StatementRecorder } from './support/test-data-source';
import { createTestDatabase, TestDatabase } from './support/test-database';

// FR-010, FR-011, FR-012: the repository against a real PostgreSQL, written around who owns what.
describe('TasksRepository', () => {
  let database: TestDatabase;
  let dataSource: TasksDataSource;
  // A second connection for raw inspection, so the statement recorder sees the repository only.
  let inspector: TasksDataSource;
  let repository: TypeOrmTasksRepository;
  const recorder = new StatementRecorder();
  const alice = 'user-alice';
  const bob = 'user-bob';

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await openDataSource(database.url, recorder);
    inspector = await openDataSource(database.url);
    repository = new TypeOrmTasksRepository(dataSource.getRepository(Task));
  });

  afterAll(async () => {
    await dataSource.destroy();
    await inspector.destroy();
    await database.drop();
  });

  const rawRow = async (id: string): Promise<Record<string, unknown> | undefined> =>
    (await inspector.query('SELECT * FROM tasks WHERE id = $1', [id]))[0];

  it('creates a task with an id, timestamps, completed=false and version 1', async () => {
    const task = await repository.create(alice, { title: 'Buy milk', description: '2 litres' });
    expect(task).toMatchObject({
      userId: alice,
      title: 'Buy milk',
      description: '2 litres',
      completed: false,
      version: 1,
    });
    expect(task.id).toMatch(/^[0-9a-f-]{36}$/);
    // Timestamps come as the API writes them: ISO-8601 in UTC, with milliseconds.
    expect(task.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(task.updatedAt).toBe(task.createdAt);
    expect(new Date(task.createdAt).toISOString()).toBe(task.createdAt);
    expect(await rawRow(task.id)).toMatchObject({ user_id: alice, title: 'Buy milk' });
  });

  it('finds its own task, and another user sees nothing', async () => {
    const task = await repository.create(alice, { title: 'Mine' });
    expect(await repository.findOne(alice, task.id)).toEqual(task);
    expect(await repository.findOne(bob, task.id)).toBeNull();
  });

  it("refuses another user's update, toggle and delete as not found, leaving the row unchanged", async () => {
    const task = await repository.create(alice, { title: 'Private', description: 'secret' });
    const before = await rawRow(task.id);

    await expect(repository.update(bob, task.id, { title: 'hacked' })).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
    await expect(repository.toggleCompleted(bob, task.id)).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
    await expect(repository.remove(bob, task.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(repository.update(bob, task.id, { title: 'x' }, 1)).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );

    expect(await rawRow(task.id)).toEqual(before);
  });

  it("lists only the owner's tasks", async () => {
    const owner = 'user-lister';
    await repository.create(owner, { title: 'one' });
    await repository.create(owner, { title: 'two' });
    await repository.create('user-other', { title: 'not yours' });

    const page = await repository.list(owner, { sort: '-created_at', limit: 100 });
    expect(page.items.map((task) => task.title).sort()).toEqual(['one', 'two']);
    expect(page.items.every((task) => task.userId === owner)).toBe(true);
    expect(page.next).toBeNull();
  });

  it('updates fields, bumps the version, and the trigger moves updated_at', async () => {
    const task = await repository.create(alice, { title: 'Draft', description: 'text' });
    // The trigger uses the transaction's clock: make sure it has visibly moved on.
    await new Promise((done) => setTimeout(done, 5));
    const updated = await repository.update(alice, task.id, { title: 'Final', description: null });
    expect(updated).toMatchObject({
      title: 'Final',
      description: null,
      completed: false,
      version: 2,
    });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(task.updatedAt));
    expect(updated.createdAt).toEqual(task.createdAt);

    // Proof that the trigger, not application code, sets updated_at: a raw UPDATE moves it too.
    await new Promise((done) => setTimeout(done, 5));
    await inspector.query(`UPDATE tasks SET title = 'raw' WHERE user_id = $1 AND id = $2`, [
      alice,
      task.id,
    ]);
    const row = await rawRow(task.id);
    expect((row?.updated_at as Date).getTime()).toBeGreaterThan(Date.parse(updated.updatedAt));
  });

  it('toggles completed in SQL and honours the expected version', async () => {
    const task = await repository.create(alice, { title: 'Toggle me' });
    const once = await repository.toggleCompleted(alice, task.id, 1);
    expect(once).toMatchObject({ completed: true, version: 2 });
    const twice = await repository.toggleCompleted(alice, task.id);
    expect(twice).toMatchObject({ completed: false, version: 3 });

    const conflict = repository.toggleCompleted(alice, task.id, 1);
    await expect(conflict).rejects.toBeInstanceOf(VersionConflictError);
    await expect(conflict).rejects.toMatchObject({ expectedVersion: 1, currentVersion: 3 });
    expect((await repository.findOne(alice, task.id))?.version).toBe(3);
  });

  it('moves a task to the trash, with and without an expected version', async () => {
    const first = await repository.create(alice, { title: 'Delete me' });
    await expect(repository.remove(alice, first.id, 7)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    await repository.remove(alice, first.id, 1);
    expect(await rawRow(first.id)).toMatchObject({ deleted_at: expect.any(Date), version: 1 });
    expect(await repository.findOne(alice, first.id)).toBeNull();
    await expect(repository.remove(alice, first.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it('refuses a blank owner id before any SQL runs', async () => {
    const sent = recorder.statements.length;
    for (const owner of ['', '   ']) {
      await expect(repository.create(owner, { title: 'x' })).rejects.toBeInstanceOf(
        InvalidInputError,
      );
      await expect(repository.findOne(owner, 'x')).rejects.toBeInstanceOf(InvalidInputError);
      await expect(repository.list(owner, { sort: 'title', limit: 1 })).rejects.toBeInstanceOf(
        InvalidInputError,
      );
    }
    expect(recorder.statements.length).toBe(sent);
  });

  it('refuses an empty update before any SQL runs', async () => {
    const task = await repository.create(alice, { title: 'Keep' });
    const sent = recorder.statements.length;
    await expect(repository.update(alice, task.id, {})).rejects.toBeInstanceOf(InvalidInputError);
    expect(recorder.statements.length).toBe(sent);
  });

  it('maps a check-constraint violation to a validation error without SQL in it', async () => {
    const error = await repository.create(alice, { title: '   ' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataLayerError);
    expect(error).toMatchObject({ field: 'title', sqlState: '23514' });
    expect(String((error as Error).message)).not.toMatch(/INSERT|tasks|\$1/);
  });

  it('paginates with a keyset cursor, each task exactly once', async () => {
    const owner = 'user-pages';
    for (let i = 0; i < 7; i++) await repository.create(owner, { title: `task ${i % 3}` });
    for (const sort of [
      'title',
      '-title',
      'created_at',
      '-created_at',
      'updated_at',
      '-updated_at',
    ] as const) {
      const seen: string[] = [];
      let after = undefined;
      do {
        const page: Awaited<ReturnType<typeof repository.list>> = await repository.list(owner, {
          sort,
          limit: 3,
          after,
        });
        seen.push(...page.items.map((task) => task.id));
        after = page.next ?? undefined;
      } while (after);
      expect(seen).toHaveLength(7);
      expect(new Set(seen).size).toBe(7);
    }
  });

  it('filters by completed', async () => {
    const owner = 'user-filter';
    const done = await repository.create(owner, { title: 'done', completed: true });
    await repository.create(owner, { title: 'open' });
    const page = await repository.list(owner, {
      sort: 'title',
      limit: 10,
      where: { completed: true },
    });
    expect(page.items.map((task) => task.id)).toEqual([done.id]);
  });

  // FR-011: runs last, over every statement the tests above sent.
  it('never sent a statement on tasks without a user_id predicate', () => {
    const onTasks = recorder.statements.filter(({ sql }) => /\btasks\b/i.test(sql));
    expect(onTasks.length).toBeGreaterThan(20);
    const ownerOf = ({ sql, parameters }: { sql: string; parameters: unknown[] }): unknown => {
      if (/^\s*INSERT\s+INTO\s+"tasks"\s*\("id", "user_id"/i.test(sql)) return parameters[0];
      const predicate = /\bWHERE\s+"?user_id"?\s*=\s*\$(\d+)/i.exec(sql);
      return predicate ? parameters[Number(predicate[1]) - 1] : undefined;
    };
    const unscoped = onTasks.filter(
      (statement) => typeof ownerOf(statement) !== 'string' || !String(ownerOf(statement)).trim(),
    );
    expect(unscoped).toEqual([]);
  });
});
