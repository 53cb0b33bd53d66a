import { applyDecorators } from '@nestjs/common';
import { ApiProperty, OmitType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { RequestValidationError } from '../../http/request-errors';
import { PageQueryDto } from '../../owned-resources/pagination';
import { seal, unseal } from '../../owned-resources/sealed-json';
import { TAG_MAX_LENGTH, TAG_PATTERN, TagNameRules } from './task-fields';

/** A tag of the caller's, on the wire (specification §13). */
export class TagResponse {
  @ApiProperty({ minLength: 1, maxLength: TAG_MAX_LENGTH, example: 'work' })
  name!: string;

  @ApiProperty({ type: 'integer', minimum: 1, description: 'How many live tasks carry it.' })
  task_count!: number;
}

/** Body of `PUT /api/:userId/tags/:name`: the new name. */
export class RenameTagDto {
  @ApiProperty({
    minLength: 1,
    maxLength: TAG_MAX_LENGTH,
    pattern: TAG_PATTERN,
    example: 'errands',
    description:
      'The new name, trimmed. If another tag already has it (in any case), the two merge under that tag’s spelling.',
  })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @applyDecorators(...TagNameRules('name', { each: false }))
  name!: string;
}

/** The answer of a rename or a delete of a tag. */
export class TagsUpdatedResponse {
  @ApiProperty({ type: 'integer', minimum: 1, description: 'How many live tasks changed.' })
  updated!: number;
}

/** Query of `GET /api/:userId/tags`: `limit` and `cursor`; one order, by name. */
export class ListTagsQueryDto extends OmitType(PageQueryDto(['name'], 'name'), ['sort']) {}

// A tag key is at most 64 characters (two UTF-16 units each); its cursor a few hundred bytes.
const MAX_CURSOR_LENGTH = 1024;
const PURPOSE = 'tag-cursor';

/** The cursor of the tags collection: the lower-cased name the previous page ended with. */
export const encodeTagCursor = (key: string): string => seal(PURPOSE, key);

export function decodeTagCursor(cursor: string): string {
  const decoded = unseal(PURPOSE, cursor, MAX_CURSOR_LENGTH);
  if (typeof decoded !== 'string' || decoded.length === 0 || decoded.length > 2 * TAG_MAX_LENGTH) {
    throw RequestValidationError.of(
      'cursor',
      'cursor is not a cursor this service issued; use the URL of the Link header as is',
    );
  }
  return decoded;
}
