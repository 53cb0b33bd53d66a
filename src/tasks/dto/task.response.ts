import { ApiProperty } from '@nestjs/swagger';
import type { Task } from '../task.entity';

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

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When a `reminder` event is sent for the task (GET /api/{userId}/events).',
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
