import { LISTS } from '../lists/lists.resource';
import { bothWays, ownedResource } from '../owned-resources/owned-resource';
import { NEXT_OCCURRENCE } from './task-recurrence.statements';
import { Task, TASK_PRIORITIES, type TaskPriority } from './task.entity';

/** Tasks as an owned resource (specification §1, §3): what the shared machinery needs to know. */
/** The properties of specification §13 that a create or an update may set. */
const ORGANISING_FIELDS = ['priority', 'dueDate', 'dueTime', 'timeZone', 'tags'] as const;
/** The stored form of `recurrence`, computed by the service from the schedule (recurrence.ts). */
const RECURRENCE_FIELDS = ['recurrence', 'recurrenceCount', 'upcoming'] as const;
/** Reminders (specification §15). */
const REMINDER_FIELDS = ['remindAt'] as const;

export const TASKS = ownedResource({
  table: 'tasks',
  entity: Task,
  noun: 'task',
  notFoundCode: 'TASK_NOT_FOUND',
  sorts: {
    ...bothWays('created_at', { property: 'createdAt', type: 'timestamp' }),
    ...bothWays('updated_at', { property: 'updatedAt', type: 'timestamp' }),
    ...bothWays('title', { property: 'title', type: 'text', maxLength: 255 }),
    ...bothWays('priority', { property: 'priority', type: 'enum', values: TASK_PRIORITIES }),
    // By due date, then due instant (all-day after the timed tasks of a day), no date last; the
    // descending order reverses all but the last rule (src/tasks/task-list.statements.ts).
    ...bothWays('due', { type: 'composite', parts: ['date?', 'timestamp?'] }),
    // With `q`: tasks whose title matches before those matched by their description, then newest.
    relevance: { type: 'composite', parts: ['boolean', 'timestamp'], descending: true },
  },
  // Filters, sorts and search are the list statement of task-list.statements.ts.
  ownList: true,
  filters: [],
  insertable: [
    'title',
    'description',
    'completed',
    'listId',
    ...ORGANISING_FIELDS,
    ...RECURRENCE_FIELDS,
    ...REMINDER_FIELDS,
  ],
  updatable: [
    'title',
    'description',
    'completed',
    'listId',
    ...ORGANISING_FIELDS,
    ...RECURRENCE_FIELDS,
    ...REMINDER_FIELDS,
  ],
  // Completing a recurring task creates its next occurrence in the same statement.
  writeFollowUp: NEXT_OCCURRENCE,
  // Each name takes the owner's spelling of it, when one of their tasks already carries it.
  writtenAs: { tags: 'task_tags_spelled(:userId, :value::text[])' },
  idempotentCreates: true,
  changesFeed: { trash: true },
  constraints: {
    // The key is on (user_id, list_id): a missing list and another user's are the same refusal.
    fk_tasks_list: { field: 'list_id', message: 'list_id must be the id of one of your lists' },
    ck_tasks_title_not_blank: { field: 'title' },
    ck_tasks_description_length: { field: 'description' },
    ck_tasks_user_id_not_blank: { field: 'user_id' },
    ck_tasks_due_time_needs_date: {
      field: 'due_time',
      message: 'due_time needs a due_date: set one, or clear due_time as well',
    },
    ck_tasks_time_zone_with_time: {
      field: 'time_zone',
      message: 'time_zone is required with a due_time, and only with one: set or clear both',
    },
    ck_tasks_due_time_exists: {
      field: 'due_time',
      message: 'due_time does not exist on that day in that time zone (a daylight-saving gap)',
    },
    ck_tasks_time_zone_known: { field: 'time_zone', message: 'time_zone is not a known IANA zone' },
    ck_tasks_tags_count: { field: 'tags', message: 'a task has at most 20 tags' },
    ck_tasks_recurrence_needs_due_date: {
      field: 'recurrence',
      message: 'a recurring task needs a due_date: clear recurrence as well, or keep the date',
    },
    ck_tasks_recurrence_schedule: {
      field: 'recurrence',
      message:
        'this task repeats: send recurrence with due_date, due_time and time_zone to change when it is due',
    },
  },
  // A same-owner reference: the foreign key below refuses a missing list and another user's alike.
  references: { listId: LISTS },
  // A task in the trash is invisible to every route but the trash's own (specification §11).
  visible: ['deleted_at IS NULL'],
  agentTools: ['add', 'list', 'update', 'complete', 'delete', 'restore'],
});

export type TaskSort = keyof typeof TASKS.sorts;
/**
 * The sort orders of `GET /api/:userId/tasks`; a leading `-` means descending. `relevance` needs
 * `q`, and is the default with it.
 */
export const TASK_SORTS = Object.keys(TASKS.sorts) as TaskSort[];
export const DEFAULT_TASK_SORT: TaskSort = '-created_at';
export const DEFAULT_SEARCH_SORT: TaskSort = 'relevance';

/** What a create or an update may set (the DTOs refuse what the wire may not clear). */
export interface TaskPatch {
  title?: string;
  description?: string | null;
  completed?: boolean;
  listId?: string | null;
  priority?: TaskPriority;
  dueDate?: string | null;
  dueTime?: string | null;
  timeZone?: string | null;
  tags?: string[];
  /** The rule without COUNT, COUNT, and the occurrences ahead: see recurrence.ts. */
  recurrence?: string | null;
  recurrenceCount?: number | null;
  upcoming?: string[] | null;
  remindAt?: string | null;
}

export interface CreateTaskInput extends TaskPatch {
  title: string;
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
  priority?: TaskPriority;
  /** Added to each task (removals first), in the owner's spelling. */
  addTags?: string[];
  /** Removed from each task, whatever their case. */
  removeTags?: string[];
}
