import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsUUID } from 'class-validator';
import { PageQueryDto, toBoolean } from '../../owned-resources/pagination';
import { DEFAULT_TASK_SORT, TASK_SORTS } from '../tasks.resource';

/** Query of `GET /api/:userId/tasks`. */
export class ListTasksQueryDto extends PageQueryDto(TASK_SORTS, DEFAULT_TASK_SORT) {
  @ApiProperty({
    required: false,
    enum: ['true', 'false'],
    description: 'Only done or open tasks.',
  })
  @Transform(toBoolean)
  @IsOptional()
  @IsBoolean({ message: 'completed must be true or false' })
  completed?: boolean;

  @ApiProperty({ required: false, format: 'uuid', description: 'Only the tasks of this list.' })
  @IsOptional()
  @IsUUID('all', { message: 'list_id must be a UUID' })
  list_id?: string;

  @ApiProperty({
    required: false,
    enum: ['true', 'false'],
    description:
      'true: the trash instead, newest first by deleted_at (no sort, completed or list_id).',
  })
  @Transform(toBoolean)
  @IsOptional()
  @IsBoolean({ message: 'trashed must be true or false' })
  trashed?: boolean;
}
