import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsUUID } from 'class-validator';
import type { TaskPriority } from '../task.entity';
import { CompletedField, ListIdField, PriorityField, TagsField } from './task-fields';

export const MAX_BULK_IDS = 500;

/**
 * Body of `PATCH /api/:userId/tasks` (specification §11): the tasks to change, and at least one
 * change. All of them change, or none does.
 */
export class BulkUpdateTasksDto {
  @ApiProperty({
    type: [String],
    format: 'uuid',
    minItems: 1,
    maxItems: MAX_BULK_IDS,
    description: `1 to ${MAX_BULK_IDS} ids of your live tasks (a repeated id counts once).`,
  })
  @IsArray({ message: `ids must be an array of 1 to ${MAX_BULK_IDS} task ids` })
  @ArrayMinSize(1, { message: `ids must be an array of 1 to ${MAX_BULK_IDS} task ids` })
  @ArrayMaxSize(MAX_BULK_IDS, { message: `ids must be an array of 1 to ${MAX_BULK_IDS} task ids` })
  @IsUUID('all', { each: true, message: 'each of ids must be a UUID' })
  ids!: string[];

  @CompletedField({ description: 'Sets every task done or open; may not be null.' })
  completed?: boolean;

  @ListIdField({ description: 'Moves every task to one of your lists; null: to no list.' })
  list_id?: string | null;

  @PriorityField({ description: 'Sets the priority of every task; may not be null.' })
  priority?: TaskPriority;

  @TagsField({
    name: 'add_tags',
    description:
      'Tags added to every task (after remove_tags), in your existing spelling of each; a task ends with at most 20.',
  })
  add_tags?: string[];

  @TagsField({
    name: 'remove_tags',
    description: 'Tags removed from every task that carries them, whatever their case.',
  })
  remove_tags?: string[];
}
