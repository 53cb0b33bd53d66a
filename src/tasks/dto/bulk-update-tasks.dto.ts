import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsUUID } from 'class-validator';
import { CompletedField, ListIdField } from './task-fields';

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
}
