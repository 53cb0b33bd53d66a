import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { buildMessage, IsBoolean, IsOptional, IsUUID, ValidateBy } from 'class-validator';
import { Temporal } from 'temporal-polyfill';
import {
  IsOptionalButNotNull,
  NameField,
  OptionalTextField,
} from '../../owned-resources/text-fields';

export const TITLE_MAX_LENGTH = 255;
export const DESCRIPTION_MAX_LENGTH = 10_000;

/** A title: stored trimmed, not blank, at most 255 characters. */
export const TitleField = ({ required }: { required: boolean }) =>
  NameField({ name: 'title', required, maxLength: TITLE_MAX_LENGTH, example: 'Buy milk' });

/** An optional description; null means none (and, in an update, clears it). */
export const DescriptionField = () =>
  OptionalTextField({ maxLength: DESCRIPTION_MAX_LENGTH, example: '2 litres, semi-skimmed' });

/** A JSON boolean: the string "true" is refused, never coerced. */
export const CompletedField = ({ description }: { description: string }) =>
  applyDecorators(
    ApiProperty({ required: false, type: Boolean, description }),
    IsOptionalButNotNull(),
    IsBoolean(),
  );

/** The task's list: a list id of the caller's, or null for none (specification §8). */
export const ListIdField = ({ description }: { description: string }) =>
  applyDecorators(
    ApiProperty({ required: false, type: String, format: 'uuid', nullable: true, description }),
    IsOptional(),
    IsUUID('all', { message: 'list_id must be a UUID or null' }),
  );

/** The latest instant a reminder may name: PostgreSQL's timestamps and RFC 3339 both end there. */
const LAST_INSTANT = Temporal.Instant.from('9999-12-31T23:59:59.999Z');
const RFC_3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The instant an RFC 3339 date-time names (from 1970 on), or null when it names none. */
function instantOf(value: unknown): Temporal.Instant | null {
  if (typeof value !== 'string' || !RFC_3339.test(value)) return null;
  try {
    const instant = Temporal.Instant.from(value);
    return instant.epochMilliseconds < 0 || Temporal.Instant.compare(instant, LAST_INSTANT) > 0
      ? null
      : instant;
  } catch {
    // A date that does not exist (February 30) or a field out of range.
    return null;
  }
}

/**
 * When to remind the owner (specification §15): an RFC 3339 date-time with its offset, or null
 * for no reminder. Stored and answered in UTC with milliseconds, as every timestamp.
 */
export const RemindAtField = () =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: String,
      format: 'date-time',
      nullable: true,
      example: '2025-01-31T09:00:00.000Z',
      description:
        'When to send a `reminder` event on `GET /api/{userId}/events` (RFC 3339, with an offset); null: none. Changing it re-arms the reminder.',
    }),
    IsOptional(),
    ValidateBy({
      name: 'isReminderInstant',
      validator: {
        validate: (value: unknown) => instantOf(value) !== null,
        defaultMessage: buildMessage(
          () =>
            'remind_at must be an RFC 3339 date-time with an offset (2025-01-31T09:00:00Z) from 1970 to 9999, or null',
        ),
      },
    }),
    Transform(({ value }: { value: unknown }) => {
      const instant = instantOf(value);
      return instant === null ? value : instant.toString({ fractionalSecondDigits: 3 });
    }),
  );
