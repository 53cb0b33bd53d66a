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
  );

/** A JSON boolean: the string "true" is refused, never coerced. */
export const CompletedField = ({ description }: { description: string }) =>
  applyDecorators(
    ApiProperty({ required: false, type: Boolean, description }),
    IsOptionalButNotNull(),
    IsBoolean(),
  );
