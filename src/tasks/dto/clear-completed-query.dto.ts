import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { Equals, IsOptional, IsUUID } from 'class-validator';
import { toBoolean } from '../../owned-resources/pagination';

/**
 * Query of `DELETE /api/:userId/tasks`: `completed=true` is required, so that a bare DELETE of
 * the collection can never empty it by mistake.
 */
export class ClearCompletedQueryDto {
  @ApiProperty({
    enum: ['true'],
    description: 'Must be true: only completed tasks are cleared.',
  })
  @Transform(toBoolean)
  @Equals(true, { message: 'completed=true is required: only completed tasks are cleared' })
  completed!: true;

  @ApiProperty({ required: false, format: 'uuid', description: 'Only the tasks of this list.' })
  @IsOptional()
  @IsUUID('all', { message: 'list_id must be a UUID' })
  list_id?: string;
}

/** The answer of `DELETE /api/:userId/tasks?completed=true`. */
export class ClearedTasksResponse {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'How many tasks went to the trash.' })
  deleted!: number;
}
