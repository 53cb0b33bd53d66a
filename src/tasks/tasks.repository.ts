import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import {
  defineOwnedStatements,
  defineOwnedWrite,
  FIELDS_SENT,
} from '../owned-resources/owned-statements';
import {
  type Cursor,
  OwnedRepository,
  type Page,
  TypeOrmOwnedRepository,
} from '../owned-resources/owned.repository';
import { notFound } from '../owned-resources/owned-resource';
import {
  BULK_UPDATABLE,
  BULK_UPDATE,
  CLEAR_COMPLETED,
  LIST_TRASH,
  LIVE_TASK_IDS,
  RESTORE_TASK,
  TRASH_TASK,
} from './task-trash.statements';
import { Task } from './task.entity';
import {
  type BulkTaskChanges,
  type CreateTaskInput,
  TASK_TRASH_SORT,
  type TaskPatch,
  type TaskSort,
  TASKS,
  type TrashSort,
} from './tasks.resource';

const STATEMENTS = defineOwnedStatements(TASKS);
/** `completed = NOT completed` in SQL: a toggle is one atomic statement, never read-then-write. */
const TOGGLE = defineOwnedWrite(TASKS, 'toggleCompleted', () => ({
  completed: () => 'NOT completed',
}));

/**
 * Data access for tasks: the owned-resource operations, and the toggle. The abstract class is
 * the DI token, so a module can provide another implementation.
 */
export abstract class TasksRepository extends OwnedRepository<
  Task,
  TaskSort,
  CreateTaskInput,
  TaskPatch
> {
  abstract toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task>;
  /** The trash (specification §11): restore, list newest first, and the bulk changes. */
  abstract restore(userId: string, id: string): Promise<Task>;
  abstract listTrash(
    userId: string,
    query: { limit: number; after?: Cursor<TrashSort> },
  ): Promise<Page<Task, TrashSort>>;
  abstract clearCompleted(userId: string, listId?: string): Promise<number>;
  abstract bulkUpdate(userId: string, ids: string[], changes: BulkTaskChanges): Promise<Task[]>;
}

@Injectable()
export class TypeOrmTasksRepository
  extends TypeOrmOwnedRepository<Task, TaskSort, CreateTaskInput, TaskPatch>
  implements TasksRepository
{
  constructor(@InjectRepository(Task) tasks: Repository<Task>) {
    super(TASKS, STATEMENTS, tasks);
  }

  toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task> {
    return this.write(
      TOGGLE,
      { checked: expectedVersion !== undefined },
      userId,
      id,
      expectedVersion,
    );
  }

  /** `DELETE` moves the task to the trash (one statement; a miss is explained as 404 or 412). */
  override async remove(userId: string, id: string, expectedVersion?: number): Promise<void> {
    await this.write(
      TRASH_TASK,
      { checked: expectedVersion !== undefined },
      userId,
      id,
      expectedVersion,
    );
  }

  restore(userId: string, id: string): Promise<Task> {
    return this.write(RESTORE_TASK, {}, userId, id, undefined);
  }

  async listTrash(
    userId: string,
    query: { limit: number; after?: Cursor<TrashSort> },
  ): Promise<Page<Task, TrashSort>> {
    const rows = await this.statements.rows<Task, typeof LIST_TRASH.shapes>(
      LIST_TRASH,
      { resumed: query.after !== undefined },
      { userId, afterValue: query.after?.value, afterId: query.after?.id, limit: query.limit + 1 },
    );
    const items = rows.slice(0, query.limit);
    const last = rows.length > query.limit ? rows[query.limit - 1] : null;
    return {
      items,
      next: last?.deletedAt ? { sort: TASK_TRASH_SORT, value: last.deletedAt, id: last.id } : null,
    };
  }

  async clearCompleted(userId: string, listId?: string): Promise<number> {
    const rows = await this.statements.rows<{ id: string }, typeof CLEAR_COMPLETED.shapes>(
      CLEAR_COMPLETED,
      { inList: listId !== undefined },
      { userId, listId },
    );
    return rows.length;
  }

  async bulkUpdate(userId: string, ids: string[], changes: BulkTaskChanges): Promise<Task[]> {
    const sent = BULK_UPDATABLE.filter((field) => changes[field] !== undefined);
    const updated = await this.statements.rows<Task, typeof BULK_UPDATE.shapes>(
      BULK_UPDATE,
      {},
      { ...changes, userId, ids, [FIELDS_SENT]: sent },
    );
    if (updated.length > 0) {
      // In the order the ids were given (RETURNING follows no order).
      const position = new Map([...ids].reverse().map((id, index) => [id.toLowerCase(), -index]));
      return updated.sort((a, b) => (position.get(a.id) ?? 0) - (position.get(b.id) ?? 0));
    }
    // All or nothing, and nothing: a second statement, on this path only, names a missing id.
    const live = await this.statements.rows<{ id: string }, Record<string, never>>(
      LIVE_TASK_IDS,
      {},
      { userId, ids },
    );
    const found = new Set(live.map((row) => row.id.toLowerCase()));
    throw notFound(TASKS, ids.find((id) => !found.has(id.toLowerCase())) ?? ids[0]);
  }
}
