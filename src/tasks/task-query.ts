/** The sort orders of `GET /api/:userId/tasks`; a leading `-` means descending. */
export const TASK_SORTS = [
  'created_at',
  '-created_at',
  'updated_at',
  '-updated_at',
  'title',
  '-title',
] as const;
export type TaskSort = (typeof TASK_SORTS)[number];
export const DEFAULT_TASK_SORT: TaskSort = '-created_at';

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

/** Where the previous page ended: the sort key and id of its last task. */
export interface TaskCursor {
  sort: TaskSort;
  /** The last task's sort value: an ISO-8601 timestamp or a title. */
  value: string;
  id: string;
}

export interface ListTasksQuery {
  completed?: boolean;
  sort: TaskSort;
  limit: number;
  after?: TaskCursor;
}

export interface CreateTaskInput {
  title: string;
  description?: string | null;
  completed?: boolean;
}

export interface TaskPatch {
  title?: string;
  description?: string | null;
  completed?: boolean;
}
