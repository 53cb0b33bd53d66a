import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  buildMessage,
  IsBoolean,
  IsNotEmpty,
  IsOptional,
  IsString,
  MaxLength,
  ValidateBy,
  ValidateIf,
} from 'class-validator';

export const TITLE_MAX_LENGTH = 255;
export const DESCRIPTION_MAX_LENGTH = 10_000;

/** PostgreSQL refuses NUL in text; refusing it here gives the caller a field error instead. */
const HasNoNulCharacter = () =>
  ValidateBy({
    name: 'hasNoNulCharacter',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || !value.includes('\u0000'),
      defaultMessage: buildMessage(() => '$property must not contain NUL characters'),
    },
  });

/**
 * A lone UTF-16 surrogate (`"\ud800"` in JSON) cannot be stored as UTF-8: the driver would
 * silently write U+FFFD instead, so the text read back would differ from the text accepted.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const IsWellFormedText = () =>
  ValidateBy({
    name: 'isWellFormedText',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || !LONE_SURROGATE.test(value),
      defaultMessage: buildMessage(
        () => '$property must be valid Unicode text (it contains a lone surrogate)',
      ),
    },
  });

/** Absent is fine, null is not: `title` and `completed` cannot be cleared. */
const IsOptionalButNotNull = () => ValidateIf((_object, value) => value !== undefined);

const trimmed = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.trim() : value;

/** A title: stored trimmed, not blank, at most 255 characters. */
export const TitleField = ({ required }: { required: boolean }) =>
  applyDecorators(
    ApiProperty({
      required,
      type: String,
      minLength: 1,
      maxLength: TITLE_MAX_LENGTH,
      example: 'Buy milk',
      description: 'Leading and trailing white space is removed; must not be blank.',
    }),
    ...(required ? [] : [IsOptionalButNotNull()]),
    Transform(trimmed),
    IsString(),
    IsNotEmpty({ message: 'title must not be blank' }),
    MaxLength(TITLE_MAX_LENGTH),
    HasNoNulCharacter(),
    IsWellFormedText(),
  );

/** An optional description; null means none (and, in an update, clears it). */
export const DescriptionField = () =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: String,
      nullable: true,
      maxLength: DESCRIPTION_MAX_LENGTH,
      example: '2 litres, semi-skimmed',
    }),
    IsOptional(),
    IsString(),
    MaxLength(DESCRIPTION_MAX_LENGTH),
    HasNoNulCharacter(),
    IsWellFormedText(),
  );

/** A JSON boolean: the string "true" is refused, never coerced. */
export const CompletedField = ({ description }: { description: string }) =>
  applyDecorators(
    ApiProperty({ required: false, type: Boolean, description }),
    IsOptionalButNotNull(),
    IsBoolean(),
  );
