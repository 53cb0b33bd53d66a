import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import {
  defineOwnedStatements,
  defineOwnedWrite,
  FIELDS_SENT,
} from '../owned-resources/owned-statements';
import { compositeValue, cursorParts } from '../owned-resources/cursor';
import {
  assertOwner,
  type Cursor,
  type ListQuery,
  OwnedRepository,
  type Page,
  TypeOrmOwnedRepository,
} from '../owned-resources/owned.repository';
import { notFound } from '../owned-resources/owned-resource';
import { ResourceNotFoundError } from '../database/resource.errors';
import {
  BULK_UPDATABLE,
  BULK_UPDATE,
  CLEAR_COMPLETED,
  LIST_TRASH,
  LIVE_TASK_IDS,
  RESTORE_TASK,
  TRASH_TASK,
} from './task-trash.statements';
import { INDEXED_TASK_FILTERS, LIST_ALL_TASKS, LIST_TASKS } from './task-list.statements';
import { ExpansionTimeoutError, upcomingOccurrences } from './recurrence';
import { REFILL_UPCOMING } from './task-recurrence.statements';
import { DELETE_TAG, LIST_TAGS, RENAME_TAG } from './task-tags.statements';
import { Task, type TaskPriority } from './task.entity';
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

/** A new occurrence as the completion's statement answers it (rows of `followed`). */
interface NextOccurrence {
  id: string;
  due_date: string;
  due_time: string | null;
  time_zone: string | null;
  recurrence: string | null;
  recurrence_count: number | null;
  upcoming: string[];
}

/** The filters of a task list (specification §13), combined with AND; absent: no filter. */
export interface TaskFilters {
  completed?: boolean;
  listId?: string;
  /** Any of these. */
  priorities?: TaskPriority[];
  /** All of these, whatever their case. */
  tags?: string[];
  /** Inclusive bounds on `due_date`; a task without one is then left out. */
  dueFrom?: string;
  dueTo?: string;
  hasDue?: boolean;
  /** Words that must all match the title or the description (the last one as a prefix). */
  words?: string[];
}

export interface TaskListQuery extends ListQuery<Task, TaskSort> {
  filters?: TaskFilters;
}

/** A tag of the owner's and how many live tasks carry it; `key` is its lower-cased name. */
export interface TagCount {
  name: string;
  taskCount: number;
  key: string;
}

/** A listed task; with search, whether its title alone matches (the relevance key). */
type ListedTask = Task & { titleMatch?: boolean };

/** The values a page's last task gives its sort key, as the cursor carries them. */
function sortValue(sort: TaskSort, task: ListedTask): string {
  switch (sort) {
    case 'due':
    case '-due':
      return compositeValue([task.dueDate, task.dueAt]);
    case 'relevance':
      return compositeValue([task.titleMatch ?? false, task.createdAt]);
    default: {
      const key = TASKS.sorts[sort];
      return key.type === 'composite' ? '' : String(task[key.property]);
    }
  }
}
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
  abstract override list(userId: string, query: TaskListQuery): Promise<Page<Task, TaskSort>>;
  abstract toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task>;
  /** The trash (specification §11): restore, list newest first, and the bulk changes. */
  abstract restore(userId: string, id: string): Promise<Task>;
  abstract listTrash(
    userId: string,
    query: { limit: number; after?: Cursor<TrashSort> },
  ): Promise<Page<Task, TrashSort>>;
  abstract clearCompleted(userId: string, listId?: string): Promise<number>;
  abstract bulkUpdate(userId: string, ids: string[], changes: BulkTaskChanges): Promise<Task[]>;
  /** The tags collection (specification §13): a page after `afterKey`, rename, delete. */
  abstract listTags(
    userId: string,
    query: { limit: number; afterKey?: string },
  ): Promise<{ items: TagCount[]; more: boolean }>;
  /** Each answers how many live tasks it changed; none carried the tag: TAG_NOT_FOUND. */
  abstract renameTag(userId: string, name: string, newName: string): Promise<number>;
  abstract deleteTag(userId: string, name: string): Promise<number>;
}

const tagNotFound = (name: string) => new ResourceNotFoundError('TAG_NOT_FOUND', 'tag', name);

@Injectable()
export class TypeOrmTasksRepository
  extends TypeOrmOwnedRepository<Task, TaskSort, CreateTaskInput, TaskPatch>
  implements TasksRepository
{
  constructor(@InjectRepository(Task) tasks: Repository<Task>) {
    super(TASKS, STATEMENTS, tasks);
  }

  override async list(userId: string, query: TaskListQuery): Promise<Page<Task, TaskSort>> {
    assertOwner(userId);
    // The shared routes' equality filters (`where`) are two of the tasks' own.
    const filters: TaskFilters = query.filters ?? {
      completed: query.where?.completed,
      listId: query.where?.listId ?? undefined,
    };
    const after = query.after;
    const afterValues =
      after === undefined
        ? []
        : TASKS.sorts[query.sort].type === 'composite'
          ? cursorParts(after.value)
          : [after.value];
    const cursor = { after0: afterValues[0], after1: afterValues[1], afterId: after?.id };
    const filtered = Object.values(filters).some((value) => value !== undefined && value !== null);
    const sort = query.sort;
    const page =
      filtered || sort === 'relevance'
        ? await this.pageOf(
            LIST_TASKS,
            {
              sort: query.sort,
              indexedFilter:
                INDEXED_TASK_FILTERS.find((name) => filters[name] !== undefined) ?? 'none',
              resumed: after !== undefined,
            },
            {
              userId,
              completed: filters.completed ?? null,
              listId: filters.listId ?? null,
              priorities: filters.priorities ?? null,
              dueFrom: filters.dueFrom ?? null,
              dueTo: filters.dueTo ?? null,
              hasDue: filters.hasDue ?? null,
              tags: filters.tags ?? null,
              words: filters.words ?? null,
              ...cursor,
            },
            query.limit,
          )
        : await this.pageOf(
            LIST_ALL_TASKS,
            { sort, resumed: after !== undefined },
            { userId, ...cursor },
            query.limit,
          );
    const rows = page.rows as ListedTask[];
    const last = page.more ? rows[rows.length - 1] : null;
    return {
      items: rows,
      next: last ? { sort: query.sort, value: sortValue(query.sort, last), id: last.id } : null,
      bytes: page.bytes,
    };
  }

  async toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task> {
    const task = await this.write(
      TOGGLE,
      { checked: expectedVersion !== undefined },
      userId,
      id,
      expectedVersion,
    );
    await this.refillUpcoming(userId, [task]);
    return task;
  }

  override async update(
    userId: string,
    id: string,
    patch: TaskPatch,
    expectedVersion?: number,
  ): Promise<Task> {
    const task = await super.update(userId, id, patch, expectedVersion);
    await this.refillUpcoming(userId, [task]);
    return task;
  }

  /**
   * A completion whose new occurrence was left with few of an open rule's occurrences ahead
   * (`followUp`, see task-recurrence.statements.ts) computes its list again: a second statement,
   * once in `UPCOMING_LIMIT - UPCOMING_REFILL_BELOW` completions of a series.
   */
  private async refillUpcoming(userId: string, written: Task[]): Promise<void> {
    const refills = written.flatMap((task) => {
      const next = (task as Task & { followUp?: NextOccurrence | null }).followUp;
      if (!next?.recurrence) return [];
      try {
        const upcoming = upcomingOccurrences(
          { dueDate: next.due_date, dueTime: next.due_time, timeZone: next.time_zone },
          { rule: next.recurrence, count: next.recurrence_count },
        );
        return [{ id: next.id, upcoming, previous: next.upcoming }];
      } catch (error) {
        // The list it has stays; the next completion of the series tries again.
        if (error instanceof ExpansionTimeoutError) return [];
        throw error;
      }
    });
    if (refills.length === 0) return;
    await this.statements.rows(REFILL_UPCOMING, {}, { userId, refills: JSON.stringify(refills) });
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
    const page = await this.pageOf(
      LIST_TRASH,
      { resumed: query.after !== undefined },
      { userId, afterValue: query.after?.value, afterId: query.after?.id },
      query.limit,
    );
    const last = page.more ? page.rows[page.rows.length - 1] : null;
    return {
      items: page.rows,
      next: last?.deletedAt ? { sort: TASK_TRASH_SORT, value: last.deletedAt, id: last.id } : null,
      bytes: page.bytes,
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
    const sent: string[] = BULK_UPDATABLE.filter((field) => changes[field] !== undefined);
    if (changes.addTags !== undefined || changes.removeTags !== undefined) sent.push('tags');
    const updated = await this.statements.rows<Task, typeof BULK_UPDATE.shapes>(
      BULK_UPDATE,
      {},
      {
        ...changes,
        addTags: changes.addTags ?? [],
        removeTags: changes.removeTags ?? [],
        userId,
        ids,
        [FIELDS_SENT]: sent,
      },
    );
    await this.refillUpcoming(userId, updated);
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

  async listTags(
    userId: string,
    query: { limit: number; afterKey?: string },
  ): Promise<{ items: TagCount[]; more: boolean }> {
    const rows = await this.statements.rows<TagCount, typeof LIST_TAGS.shapes>(
      LIST_TAGS,
      { resumed: query.afterKey !== undefined },
      { userId, afterKey: query.afterKey, limit: query.limit + 1 },
    );
    return { items: rows.slice(0, query.limit), more: rows.length > query.limit };
  }

  async renameTag(userId: string, name: string, newName: string): Promise<number> {
    const rows = await this.statements.rows<{ id: string }, Record<string, never>>(
      RENAME_TAG,
      {},
      { userId, name, newName },
    );
    if (rows.length === 0) throw tagNotFound(name);
    return rows.length;
  }

  async deleteTag(userId: string, name: string): Promise<number> {
    const rows = await this.statements.rows<{ id: string }, Record<string, never>>(
      DELETE_TAG,
      {},
      { userId, name },
    );
    if (rows.length === 0) throw tagNotFound(name);
    return rows.length;
  }
}
