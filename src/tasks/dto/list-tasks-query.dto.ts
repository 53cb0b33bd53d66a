import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
} from 'class-validator';
import { PageQueryDto, toBoolean } from '../../owned-resources/pagination';
import { TEXT_PATTERNS } from '../../http/openapi-edge';
import { IsWellFormedText } from '../../owned-resources/text-fields';
import { TASK_PRIORITIES, type TaskPriority } from '../task.entity';
import { DEFAULT_TASK_SORT, TASK_SORTS } from '../tasks.resource';
import { IsCalendarDate, MAX_TAGS, TAG_MAX_LENGTH, TAG_PATTERN, TagNameRules } from './task-fields';

export const SEARCH_MAX_LENGTH = 200;

/** A repeatable query parameter: one value is a string, several an array; always an array. */
const toList = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? [value] : value;
const trimmedList = ({ value }: { value: unknown }): unknown => {
  const list = toList({ value });
  return Array.isArray(list)
    ? list.map((item: unknown) => (typeof item === 'string' ? item.trim() : item))
    : list;
};
const trimmed = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.trim() : value;

/** Query of `GET /api/:userId/tasks`: the filters, combined with AND (specification §13). */
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
    type: 'array',
    items: { type: 'string', enum: [...TASK_PRIORITIES] },
    maxItems: TASK_PRIORITIES.length,
    description: 'Repeatable: tasks of any of these priorities (`priority=high&priority=medium`).',
  })
  @Transform(toList)
  @IsOptional()
  @IsArray({ message: 'priority must be given once per value' })
  @ArrayMaxSize(TASK_PRIORITIES.length, { message: 'priority is given at most 4 times' })
  @IsIn(TASK_PRIORITIES, {
    each: true,
    message: `each priority must be one of ${TASK_PRIORITIES.join(', ')}`,
  })
  priority?: TaskPriority[];

  @ApiProperty({
    required: false,
    type: 'array',
    items: { type: 'string', minLength: 1, maxLength: TAG_MAX_LENGTH, pattern: TAG_PATTERN },
    maxItems: MAX_TAGS,
    description:
      'Repeatable: tasks that carry all of these tags, whatever their case (`tag=work&tag=urgent`).',
  })
  @Transform(trimmedList)
  @IsOptional()
  @IsArray({ message: 'tag must be given once per value' })
  @ArrayMaxSize(MAX_TAGS, { message: `tag is given at most ${MAX_TAGS} times` })
  @applyDecorators(...TagNameRules('tag', { each: true }))
  tag?: string[];

  @ApiProperty({
    required: false,
    format: 'date',
    description: 'Tasks due on or after this day (YYYY-MM-DD); undated tasks are left out.',
  })
  @IsOptional()
  @IsCalendarDate('due_from')
  due_from?: string;

  @ApiProperty({
    required: false,
    format: 'date',
    description: 'Tasks due on or before this day (YYYY-MM-DD); undated tasks are left out.',
  })
  @IsOptional()
  @IsCalendarDate('due_to')
  due_to?: string;

  @ApiProperty({
    required: false,
    enum: ['true', 'false'],
    description: 'Only tasks with (true) or without (false) a due date.',
  })
  @Transform(toBoolean)
  @IsOptional()
  @IsBoolean({ message: 'has_due must be true or false' })
  has_due?: boolean;

  @ApiProperty({
    required: false,
    minLength: 1,
    maxLength: SEARCH_MAX_LENGTH,
    description:
      'Search: every word must appear in the title or the description, in any order, ignoring case and accents; the last word may be the start of one. Plain text (no operators). Sorts by relevance unless `sort` is given.',
  })
  @Transform(trimmed)
  @IsOptional()
  @IsString({ message: `q must be 1 to ${SEARCH_MAX_LENGTH} characters` })
  @IsNotEmpty({ message: `q must be 1 to ${SEARCH_MAX_LENGTH} characters, not blank` })
  @MaxLength(SEARCH_MAX_LENGTH, { message: `q must be 1 to ${SEARCH_MAX_LENGTH} characters` })
  @Matches(new RegExp(TEXT_PATTERNS.noNul), { message: 'q must not contain NUL characters' })
  @IsWellFormedText()
  q?: string;

  @ApiProperty({
    required: false,
    enum: ['true', 'false'],
    description: 'true: the trash instead, newest first by deleted_at (no sort, filter or search).',
  })
  @Transform(toBoolean)
  @IsOptional()
  @IsBoolean({ message: 'trashed must be true or false' })
  trashed?: boolean;
}
