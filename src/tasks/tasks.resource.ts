import { LISTS } from '../lists/lists.resource';
import { bothWays, ownedResource } from '../owned-resources/owned-resource';
import { Task } from './task.entity';

/** Tasks as an owned resource (specification §1, §3): what the shared machinery needs to know. */
export const TASKS = ownedResource({
  table: 'tasks',
  entity: Task,
  noun: 'task',
  notFoundCode: 'TASK_NOT_FOUND',
  sorts: {
    ...bothWays('created_at', { property: 'createdAt', type: 'timestamp' }),
    ...bothWays('updated_at', { property: 'updatedAt', type: 'timestamp' }),
    ...bothWays('title', { property: 'title', type: 'text', maxLength: 255 }),
  },
  filters: ['completed', 'listId'],
  // ix_tasks_user_id_list_id: a list's tasks are read through it, not among all the owner's.
  indexedFilters: ['listId'],
  insertable: ['title', 'description', 'completed', 'listId', 'remindAt'],
  updatable: ['title', 'description', 'completed', 'listId', 'remindAt'],
  idempotentCreates: true,
  changesFeed: { trash: true },
  constraints: {
    // The key is on (user_id, list_id): a missing list and another user's are the same refusal.
    fk_tasks_list: { field: 'list_id', message: 'list_id must be the id of one of your lists' },
    ck_tasks_title_not_blank: { field: 'title' },
    ck_tasks_description_length: { field: 'description' },
    ck_tasks_user_id_not_blank: { field: 'user_id' },
  },
  // A same-owner reference: the foreign key below refuses a missing list and another user's alike.
  references: { listId: LISTS },
  // A task in the trash is invisible to every route but the trash's own (specification §11).
  visible: ['deleted_at IS NULL'],
  agentTools: ['add', 'list', 'update', 'complete', 'delete', 'restore'],
});

export type TaskSort = keyof typeof TASKS.sorts;
/** The sort orders of `GET /api/:userId/tasks`; a leading `-` means descending. */
export const TASK_SORTS = Object.keys(TASKS.sorts) as TaskSort[];
export const DEFAULT_TASK_SORT: TaskSort = '-created_at';

export interface CreateTaskInput {
  title: string;
  description?: string | null;
  completed?: boolean;
  listId?: string | null;
  remindAt?: string | null;
}

export interface TaskPatch {
  title?: string;
  description?: string | null;
  completed?: boolean;
  listId?: string | null;
  remindAt?: string | null;
}

/** The trash's one order, newest first, as its cursors name it (specification §11). */
export const TASK_TRASH_SORT = '-deleted_at';
export type TrashSort = typeof TASK_TRASH_SORT;

/** The trash as the cursor codec sees it: the tasks, with the trash's one sort. */
export const TASK_TRASH = ownedResource({
  ...TASKS,
  sorts: { [TASK_TRASH_SORT]: { property: 'deletedAt', type: 'timestamp', descending: true } },
});

/** What `PATCH /api/:userId/tasks` may change; at least one is set. */
export interface BulkTaskChanges {
  completed?: boolean;
  listId?: string | null;
}
