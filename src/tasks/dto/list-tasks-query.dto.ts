import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import {
  DEFAULT_PAGE_SIZE,
  DEFAULT_TASK_SORT,
  MAX_PAGE_SIZE,
  TASK_SORTS,
  type TaskSort,
} from '../task-query';

// Query strings are text; only these exact spellings are read as a boolean or a number.
const toBoolean = ({ value }: { value: unknown }): unknown =>
  value === 'true' ? true : value === 'false' ? false : value;
const toInteger = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^[0-9]{1,6}$/.test(value) ? Number(value) : value;

/** Query of `GET /api/:userId/tasks`. */
export class ListTasksQueryDto {
  @ApiProperty({
    required: false,
    enum: ['true', 'false'],
    description: 'Only done or open tasks.',
  })
  @Transform(toBoolean)
  @IsOptional()
  @IsBoolean({ message: 'completed must be true or false' })
  completed?: boolean;

  @ApiProperty({
    required: false,
    enum: TASK_SORTS,
    default: DEFAULT_TASK_SORT,
    description: 'Sort key; a leading "-" sorts descending. Ties are broken by id.',
  })
  @IsIn(TASK_SORTS, { message: `sort must be one of ${TASK_SORTS.join(', ')}` })
  sort: TaskSort = DEFAULT_TASK_SORT;

  @ApiProperty({
    required: false,
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
  })
  @Transform(toInteger)
  @IsInt({ message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
  @Min(1, { message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
  @Max(MAX_PAGE_SIZE, { message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
  limit: number = DEFAULT_PAGE_SIZE;

  @ApiProperty({
    required: false,
    description: 'Opaque; taken from the Link header of the previous page.',
  })
  @IsOptional()
  @IsString()
  cursor?: string;
}
