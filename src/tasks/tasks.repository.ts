import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository, SelectQueryBuilder, WhereExpressionBuilder } from 'typeorm';
import { CompiledStatements, ParameterName } from '../database/compiled-statements';
import { Task } from './task.entity';
import { InvalidTaskInputError, TaskNotFoundError, VersionConflictError } from './task.errors';
import type {
  CreateTaskInput,
  ListTasksQuery,
  TaskCursor,
  TaskPatch,
  TaskSort,
} from './task-query';

export interface TaskPage {
  tasks: Task[];
  /** Set when more tasks follow the last one returned. */
  next: TaskCursor | null;
}

/**
 * Data access for tasks. Every method takes the owner first, and every statement it issues
 * carries `user_id = $owner`: a task of another user behaves exactly like one that does not
 * exist. The abstract class is the DI token, so a module can provide another implementation.
 */
export abstract class TasksRepository {
  abstract create(userId: string, input: CreateTaskInput): Promise<Task>;
  abstract findOne(userId: string, id: string): Promise<Task | null>;
  abstract list(userId: string, query: ListTasksQuery): Promise<TaskPage>;
  abstract update(
    userId: string,
    id: string,
    patch: TaskPatch,
    expectedVersion?: number,
  ): Promise<Task>;
  abstract toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task>;
  abstract remove(userId: string, id: string, expectedVersion?: number): Promise<void>;
}

/** Entity property names; TypeORM renders them as the snake_case columns of `TaskRow`. */
const TASK_PROPERTIES = [
  'id',
  'userId',
  'title',
  'description',
  'completed',
  'version',
  'createdAt',
  'updatedAt',
];

interface TaskRow {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** The select list of a read: the same row shape as a write's `RETURNING`. */
const SELECTED_COLUMNS = [
  'task.id AS id',
  'task.user_id AS user_id',
  'task.title AS title',
  'task.description AS description',
  'task.completed AS completed',
  'task.version AS version',
  'task.created_at AS created_at',
  'task.updated_at AS updated_at',
];

const toTask = (row: TaskRow): Task => ({
  id: row.id,
  userId: row.user_id,
  title: row.title,
  description: row.description,
  completed: row.completed,
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const SORT_COLUMNS: Record<TaskSort, { column: keyof TaskRow; descending: boolean }> = {
  created_at: { column: 'created_at', descending: false },
  '-created_at': { column: 'created_at', descending: true },
  updated_at: { column: 'updated_at', descending: false },
  '-updated_at': { column: 'updated_at', descending: true },
  title: { column: 'title', descending: false },
  '-title': { column: 'title', descending: true },
};

const UPDATABLE_FIELDS = ['title', 'description', 'completed'] as const;

const assertOwner = (userId: string): void => {
  if (typeof userId !== 'string' || userId.trim() === '') {
    throw new InvalidTaskInputError('The owner id must not be blank', 'user_id');
  }
};

@Injectable()
export class TypeOrmTasksRepository extends TasksRepository {
  private readonly statements: CompiledStatements;

  constructor(@InjectRepository(Task) private readonly tasks: Repository<Task>) {
    super();
    this.statements = new CompiledStatements(tasks.manager.connection);
  }

  async create(userId: string, input: CreateTaskInput): Promise<Task> {
    assertOwner(userId);
    const [row] = await this.statements.rows<TaskRow>(
      'create',
      (p) =>
        this.tasks
          .createQueryBuilder()
          .insert()
          .into(Task)
          .values({
            userId: p('userId'),
            title: p('title'),
            description: p('description'),
            completed: p('completed') as unknown as boolean,
          })
          .returning(TASK_PROPERTIES),
      {
        userId,
        title: input.title,
        description: input.description ?? null,
        completed: input.completed ?? false,
      },
    );
    return toTask(row);
  }

  async findOne(userId: string, id: string): Promise<Task | null> {
    assertOwner(userId);
    const [row] = await this.statements.rows<TaskRow>(
      'findOne',
      (p) =>
        this.owned(p)
          .select(SELECTED_COLUMNS)
          .andWhere('id = :id', { id: p('id') }),
      { userId, id },
    );
    return row ? toTask(row) : null;
  }

  async list(userId: string, query: ListTasksQuery): Promise<TaskPage> {
    assertOwner(userId);
    const { column, descending } = SORT_COLUMNS[query.sort];
    const direction = descending ? 'DESC' : 'ASC';
    const filtered = query.completed !== undefined;
    const resumed = query.after !== undefined;
    const rows = await this.statements.rows<TaskRow>(
      `list:${query.sort}:${filtered}:${resumed}`,
      (p) => {
        const builder = this.owned(p).select(SELECTED_COLUMNS);
        if (filtered) builder.andWhere('completed = :completed', { completed: p('completed') });
        // Keyset pagination: a row comparison that the (user_id, column, id) index serves, so
        // page N costs what page 1 costs.
        if (resumed) {
          builder.andWhere(`(${column}, id) ${descending ? '<' : '>'} (:afterValue, :afterId)`, {
            afterValue: p('afterValue'),
            afterId: p('afterId'),
          });
        }
        return builder.orderBy(column, direction).addOrderBy('id', direction);
      },
      {
        userId,
        completed: query.completed,
        afterValue: query.after?.value,
        afterId: query.after?.id,
        limit: query.limit + 1,
      },
      'limit',
    );
    const tasks = rows.slice(0, query.limit).map(toTask);
    const last = rows.length > query.limit ? rows[query.limit - 1] : null;
    return {
      tasks,
      next: last ? { sort: query.sort, value: cursorValue(last[column]), id: last.id } : null,
    };
  }

  async update(
    userId: string,
    id: string,
    patch: TaskPatch,
    expectedVersion?: number,
  ): Promise<Task> {
    const fields = UPDATABLE_FIELDS.filter((field) => patch[field] !== undefined);
    if (fields.length === 0) {
      throw new InvalidTaskInputError('An update must change at least one field', null);
    }
    return this.write(
      `update:${fields.join(',')}`,
      userId,
      id,
      expectedVersion,
      (p) => Object.fromEntries(fields.map((field) => [field, p(field)])),
      { ...patch },
    );
  }

  async toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task> {
    return this.write('toggle', userId, id, expectedVersion, () => ({
      completed: () => 'NOT completed',
    }));
  }

  async remove(userId: string, id: string, expectedVersion?: number): Promise<void> {
    assertOwner(userId);
    const checked = expectedVersion !== undefined;
    const rows = await this.statements.rows<{ id: string }>(
      `remove:${checked}`,
      (p) =>
        this.withVersion(
          this.owned(p)
            .delete()
            .andWhere('id = :id', { id: p('id') }),
          p,
          checked,
        ).returning(['id']),
      { userId, id, expectedVersion },
    );
    if (rows.length === 0) await this.explainMissing(userId, id, expectedVersion);
  }

  /** One atomic `UPDATE … WHERE user_id AND id [AND version] RETURNING …`, never read-then-write. */
  private async write(
    shape: string,
    userId: string,
    id: string,
    expectedVersion: number | undefined,
    changes: (p: ParameterName) => Record<string, unknown>,
    values: Record<string, unknown> = {},
  ): Promise<Task> {
    assertOwner(userId);
    const checked = expectedVersion !== undefined;
    const rows = await this.statements.rows<TaskRow>(
      `${shape}:${checked}`,
      (p) =>
        this.withVersion(
          this.owned(p)
            .update()
            .set({ ...changes(p), version: () => 'version + 1' })
            .andWhere('id = :id', { id: p('id') }),
          p,
          checked,
        ).returning(TASK_PROPERTIES),
      { ...values, userId, id, expectedVersion },
    );
    if (rows.length === 0) return this.explainMissing(userId, id, expectedVersion);
    return toTask(rows[0]);
  }

  /**
   * A write matched no row: says whether the task is missing (for this owner) or at another
   * version. Runs only on that failure path, so a successful write stays one statement.
   */
  private async explainMissing(
    userId: string,
    id: string,
    expectedVersion: number | undefined,
  ): Promise<never> {
    const current = expectedVersion === undefined ? null : await this.findOne(userId, id);
    if (current && expectedVersion !== undefined) {
      throw new VersionConflictError(id, expectedVersion, current.version);
    }
    throw new TaskNotFoundError(id);
  }

  /**
   * The one place a tasks statement starts: scoped to its owner before anything else is added.
   * Columns are unqualified so that the same predicate reads right in SELECT, UPDATE and DELETE.
   */
  private owned(p: ParameterName): SelectQueryBuilder<Task> {
    return this.tasks
      .createQueryBuilder('task')
      .where('user_id = :userId', { userId: p('userId') });
  }

  private withVersion<B extends WhereExpressionBuilder>(
    builder: B,
    p: ParameterName,
    checked: boolean,
  ): B {
    if (checked)
      builder.andWhere('version = :expectedVersion', { expectedVersion: p('expectedVersion') });
    return builder;
  }
}

const cursorValue = (value: TaskRow[keyof TaskRow]): string =>
  value instanceof Date ? value.toISOString() : String(value);
