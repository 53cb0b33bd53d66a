import { Column, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/database-options';
import type { IsoTimestamp } from '../src/database/iso-timestamp';
import { DataValidationError } from '../src/database/data-layer.errors';
import { TasksDataSource } from '../src/database/tasks-data-source';
import { ENTITIES } from '../src/entities';
import { bothWays, ownedResource } from '../src/owned-resources/owned-resource';
import { defineOwnedStatements } from '../src/owned-resources/owned-statements';
import { TypeOrmOwnedRepository } from '../src/owned-resources/owned.repository';
import { Task } from '../src/tasks/task.entity';
import { TypeOrmTasksRepository } from '../src/tasks/tasks.repository';
import { TASKS } from '../src/tasks/tasks.resource';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * A reference to a soft-deleting resource: pins that name a task of their owner. The table exists
 * only in this file's database; it stands for any future resource that references tasks.
 */
@Entity({ name: 'task_pins' })
class TaskPin {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ name: 'task_id', type: 'uuid', nullable: true })
  taskId!: string | null;

  @Column({ type: 'integer', default: 1 })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt!: IsoTimestamp;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt!: IsoTimestamp;
}

const PINS = ownedResource({
  table: 'task_pins',
  entity: TaskPin,
  noun: 'pin',
  notFoundCode: 'PIN_NOT_FOUND',
  sorts: bothWays('created_at', { property: 'createdAt', type: 'timestamp' }),
  filters: [],
  insertable: ['taskId'],
  updatable: ['taskId'],
  constraints: { fk_task_pins_task: { field: 'task_id', message: 'task_id must name a task' } },
  references: { taskId: TASKS },
});

describe('references to a soft-deleting resource', () => {
  let database: TestDatabase;
  let dataSource: TasksDataSource;
  let pins: TypeOrmOwnedRepository<TaskPin, string, Partial<TaskPin>, Partial<TaskPin>>;
  let tasks: TypeOrmTasksRepository;
  const owner = 'pin-owner';

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = new TasksDataSource(
      buildDataSourceOptions(
        { url: database.url, poolMax: 2, connectTimeoutMs: 5000, statementTimeoutMs: 5000 },
        [...ENTITIES, TaskPin],
      ),
    );
    await dataSource.initialize();
    await dataSource.query(`
      ALTER TABLE tasks ADD CONSTRAINT uq_tasks_user_id_id UNIQUE (user_id, id);
      CREATE TABLE task_pins (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id varchar(255) NOT NULL,
        task_id uuid,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT fk_task_pins_task FOREIGN KEY (user_id, task_id) REFERENCES tasks (user_id, id)
      )`);
    const repository: Repository<TaskPin> = dataSource.getRepository(TaskPin);
    pins = new TypeOrmOwnedRepository(PINS, defineOwnedStatements(PINS), repository);
    tasks = new TypeOrmTasksRepository(dataSource.getRepository(Task));
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  /** The refusal of a missing task: the same for a trashed one and another user's. */
  const refusal = async (work: Promise<unknown>) => {
    const error: unknown = await work.then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(DataValidationError);
    expect(error).toMatchObject({ field: 'task_id', message: 'task_id must name a task' });
  };
  const pinCount = async (): Promise<number> =>
    Number((await dataSource.query('SELECT count(*) AS n FROM task_pins'))[0].n);

  it('refuses a trashed task like a missing one or another user’s, on create', async () => {
    const live = await tasks.create(owner, { title: 'live' });
    const trashed = await tasks.create(owner, { title: 'trashed' });
    await tasks.remove(owner, trashed.id);
    const foreign = await tasks.create('someone-else', { title: 'theirs' });
    const before = await pinCount();

    for (const taskId of [trashed.id, foreign.id, '6f1c0d4e-3a59-4f57-9d3c-1a7e4bbf0a11']) {
      await refusal(pins.create(owner, { taskId }));
    }
    expect(await pinCount()).toBe(before);

    const pin = await pins.create(owner, { taskId: live.id });
    expect(pin.taskId).toBe(live.id);
    expect(await pins.create(owner, { taskId: null })).toMatchObject({ taskId: null });
  });

  it('refuses a trashed task on update, keeps the row as it was, and allows clearing', async () => {
    const live = await tasks.create(owner, { title: 'live' });
    const trashed = await tasks.create(owner, { title: 'to trash' });
    const pin = await pins.create(owner, { taskId: live.id });
    await tasks.remove(owner, trashed.id);

    await refusal(pins.update(owner, pin.id, { taskId: trashed.id }));
    expect(await pins.findOne(owner, pin.id)).toMatchObject({ taskId: live.id, version: 1 });

    await tasks.restore(owner, trashed.id);
    expect(await pins.update(owner, pin.id, { taskId: trashed.id })).toMatchObject({
      taskId: trashed.id,
      version: 2,
    });
    expect(await pins.update(owner, pin.id, { taskId: null })).toMatchObject({ taskId: null });
  });

  it('keeps an existing reference when the task is trashed later (only writes are checked)', async () => {
    const task = await tasks.create(owner, { title: 'pinned, then trashed' });
    const pin = await pins.create(owner, { taskId: task.id });
    await tasks.remove(owner, task.id);
    expect(await pins.findOne(owner, pin.id)).toMatchObject({ taskId: task.id });
  });
});
