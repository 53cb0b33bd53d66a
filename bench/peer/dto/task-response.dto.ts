import type { Task } from '../task.entity';

/** A task on the wire: the service's keys, snake_case, ISO-8601 timestamps. */
export interface TaskResponseDto {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  list_id: string | null;
  priority: string;
  due_date: string | null;
  due_time: string | null;
  time_zone: string | null;
  due_at: Date | null;
  tags: string[];
  recurrence: string | null;
  next_id: string | null;
  remind_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Columns that a fresh insert leaves to the database are not read back: they are null. */
export function toTaskResponse(task: Task): TaskResponseDto {
  return {
    id: task.id,
    user_id: task.userId,
    title: task.title,
    description: task.description ?? null,
    completed: task.completed,
    list_id: task.listId ?? null,
    priority: task.priority,
    due_date: task.dueDate ?? null,
    due_time: task.dueTime ? task.dueTime.slice(0, 5) : null,
    time_zone: task.timeZone ?? null,
    due_at: task.dueAt ?? null,
    tags: task.tags,
    recurrence:
      task.recurrence && task.recurrenceCount
        ? `${task.recurrence};COUNT=${task.recurrenceCount}`
        : (task.recurrence ?? null),
    next_id: task.nextId ?? null,
    remind_at: task.remindAt ?? null,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
  };
}
