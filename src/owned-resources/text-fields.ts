import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  buildMessage,
  IsNotEmpty,
  IsOptional,
  IsString,
  MaxLength,
  ValidateBy,
  ValidateIf,
  type ValidationOptions,
} from 'class-validator';
import { TEXT_PATTERNS } from '../http/openapi-edge';

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
export const IsWellFormedText = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isWellFormedText',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !LONE_SURROGATE.test(value),
        defaultMessage: buildMessage(
          () => '$property must be valid Unicode text (it contains a lone surrogate)',
        ),
      },
    },
    options,
  );

/** Absent is fine, null is not: for fields that cannot be cleared. */
export const IsOptionalButNotNull = () => ValidateIf((_object, value) => value !== undefined);

const trimmed = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.trim() : value;

/**
 * A name-like text (a title, a list's name): stored trimmed, not blank, at most `maxLength`
 * characters. `required: false` is for updates: absent keeps the value, null is refused.
 */
export const NameField = ({
  name,
  required,
  maxLength,
  example,
}: {
  name: string;
  required: boolean;
  maxLength: number;
  example: string;
}) =>
  applyDecorators(
    ApiProperty({
      required,
      type: String,
      minLength: 1,
      maxLength,
      pattern: TEXT_PATTERNS.notBlankNoNul,
      example,
      description: 'Leading and trailing white space is removed; must not be blank.',
    }),
    ...(required ? [] : [IsOptionalButNotNull()]),
    Transform(trimmed),
    IsString(),
    IsNotEmpty({ message: `${name} must not be blank` }),
    MaxLength(maxLength),
    HasNoNulCharacter(),
    IsWellFormedText(),
  );

/** An optional free text; null means none (and, in an update, clears it). */
export const OptionalTextField = ({ maxLength, example }: { maxLength: number; example: string }) =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: String,
      nullable: true,
      maxLength,
      pattern: TEXT_PATTERNS.noNul,
      example,
    }),
    IsOptional(),
    IsString(),
    MaxLength(maxLength),
    HasNoNulCharacter(),
    IsWellFormedText(),
  );
