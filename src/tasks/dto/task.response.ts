import { ApiProperty } from '@nestjs/swagger';
import { recurrenceText } from '../recurrence';
import { TASK_PRIORITIES, type Task, type TaskPriority } from '../task.entity';

/** A task on the wire (specification §3): snake_case, ISO-8601 UTC timestamps. */
export class TaskResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ description: "The owner's id: the token's subject." })
  user_id!: string;

  @ApiProperty({ maxLength: 255 })
  title!: string;

  @ApiProperty({ type: String, nullable: true, maxLength: 10_000 })
  description!: string | null;

  @ApiProperty()
  completed!: boolean;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: "The task's list." })
  list_id!: string | null;

  @ApiProperty({ enum: TASK_PRIORITIES, description: 'none unless set.' })
  priority!: TaskPriority;

  @ApiProperty({ type: String, format: 'date', nullable: true, example: '2025-01-31' })
  due_date!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
    example: '09:30',
    description: 'The wall time it is due in time_zone; null for an all-day task.',
  })
  due_time!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'Europe/Berlin' })
  time_zone!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: '2025-01-31T08:30:00.000Z',
    description:
      'Read-only: the instant of due_date and due_time in time_zone (UTC); null for an all-day task.',
  })
  due_at!: string | null;

  @ApiProperty({
    type: [String],
    maxItems: 20,
    description: 'Tag names, in case-insensitive order.',
  })
  tags!: string[];

  @ApiProperty({
    type: String,
    nullable: true,
    maxLength: 500,
    example: 'FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=11',
    description:
      'The RFC 5545 rule it repeats by (without "RRULE:"), its COUNT the occurrences left, this one included; null: it does not repeat.',
  })
  recurrence!: string | null;

  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description:
      'Read-only: the next occurrence, created when this recurring task was completed; null on every other task.',
  })
  next_id!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description:
      'When a `reminder` event is sent for the task (the caller’s event stream, `GET …/events`).',
  })
  remind_at!: string | null;

  @ApiProperty({ format: 'date-time', example: '2025-01-31T09:30:00.000Z' })
  created_at!: string;

  @ApiProperty({ format: 'date-time', example: '2025-01-31T09:30:00.000Z' })
  updated_at!: string;

  @ApiProperty({
    required: false,
    format: 'date-time',
    description: 'When the task went to the trash: only in the trash (`?trashed=true`).',
  })
  deleted_at?: string;
}

/** Maps a task to its wire form: a plain function, on the hot path of every task response. */
export function toTaskResponse(task: Task): TaskResponse {
  return {
    id: task.id,
    user_id: task.userId,
    title: task.title,
    description: task.description,
    completed: task.completed,
    list_id: task.listId,
    priority: task.priority,
    due_date: task.dueDate,
    // The column is a time(0): `HH:MM:SS` with zero seconds, `HH:MM` on the wire.
    due_time: task.dueTime === null ? null : task.dueTime.slice(0, 5),
    time_zone: task.timeZone,
    due_at: task.dueAt,
    tags: task.tags,
    recurrence: recurrenceText(task.recurrence, task.recurrenceCount),
    next_id: task.nextId,
    remind_at: task.remindAt,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
  };
}

/** A task in the trash: its wire form and when it was trashed. */
export const toTrashedTaskResponse = (task: Task): TaskResponse => ({
  ...toTaskResponse(task),
  deleted_at: task.deletedAt ?? undefined,
});
