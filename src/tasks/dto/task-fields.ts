import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  buildMessage,
  IsArray,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateBy,
  type ValidationArguments,
} from 'class-validator';
import { Temporal } from 'temporal-polyfill';
import { RECURRENCE_MAX_LENGTH } from '../recurrence';
import { TASK_PRIORITIES } from '../task.entity';
import { BooleanField, ReferenceField } from '../../owned-resources/fields';
import {
  IsOptionalButNotNull,
  IsWellFormedText,
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
  BooleanField({ description });

/** The task's list: a list id of the caller's, or null for none (specification §8). */
export const ListIdField = ({ description }: { description: string }) =>
  ReferenceField({ name: 'list_id', description });

export const MAX_TAGS = 20;
export const TAG_MAX_LENGTH = 64;

/** `none`, `low`, `medium` or `high`; may not be null. */
export const PriorityField = ({ description }: { description: string }) =>
  applyDecorators(
    ApiProperty({ required: false, enum: TASK_PRIORITIES, description }),
    IsOptionalButNotNull(),
    IsIn(TASK_PRIORITIES, { message: `priority must be one of ${TASK_PRIORITIES.join(', ')}` }),
  );

/** A calendar date, `YYYY-MM-DD`, that exists (no 2025-02-30), years 0001 to 9999. */
export const IsCalendarDate = (name: string) =>
  ValidateBy({
    name: 'isCalendarDate',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isCalendarDate(value),
      defaultMessage: buildMessage(() => `${name} must be a date that exists, as YYYY-MM-DD`),
    },
  });

export function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match || match[1] === '0000') return false;
  // Parsed as UTC: an impossible day rolls into the next month and no longer reads the same.
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(value);
}

/**
 * The rules between the due fields of one body. A create needs the other field present and set;
 * an update only refuses it cleared in the same body (the table's checks see the stored value).
 */
const Needs = (other: string, message: string, mode: 'create' | 'update') =>
  ValidateBy({
    name: `needs_${other}`,
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => {
        if (value === null || value === undefined) return true;
        const given = (args?.object as Record<string, unknown> | undefined)?.[other];
        return mode === 'create' ? given !== undefined && given !== null : given !== null;
      },
      defaultMessage: buildMessage(() => message),
    },
  });

type Mode = { mode: 'create' | 'update' };

/** The due date; null: none (and, in an update, clears it, with `due_time` cleared too). */
export const DueDateField = () =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: String,
      format: 'date',
      nullable: true,
      example: '2025-01-31',
      description: 'The day the task is due (YYYY-MM-DD); null: none.',
    }),
    IsOptional(),
    IsCalendarDate('due_date'),
  );

/** The wall time on the due date, `HH:MM`, in `time_zone`; only with a due date. */
export const DueTimeField = ({ mode }: Mode) =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: String,
      nullable: true,
      pattern: DUE_TIME_PATTERN,
      example: '09:30',
      description:
        'The wall time it is due (HH:MM, 24-hour) in time_zone; needs a due_date and a time_zone. A time that does not exist that day in that zone (a daylight-saving gap) is refused; one that exists twice is the earlier.',
    }),
    IsOptional(),
    Matches(new RegExp(DUE_TIME_PATTERN), {
      message: 'due_time must be a time as HH:MM (00:00 to 23:59)',
    }),
    Needs('due_date', 'due_time needs a due_date', mode),
    Needs('time_zone', 'due_time needs a time_zone (an IANA zone such as Europe/Berlin)', mode),
  );

/** An IANA zone name, as the runtime's zone database knows it, stored in its canonical case. */
export const TimeZoneField = ({ mode }: Mode) =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: String,
      nullable: true,
      maxLength: 64,
      example: 'Europe/Berlin',
      description: 'The IANA time zone of due_time; required with it, null without it.',
    }),
    IsOptional(),
    Transform(({ value }: { value: unknown }) => canonicalZone(value) ?? value),
    ValidateBy({
      name: 'isTimeZone',
      validator: {
        validate: (value: unknown) => canonicalZone(value) !== undefined,
        defaultMessage: buildMessage(
          () => 'time_zone must be an IANA time zone name, such as Europe/Berlin',
        ),
      },
    }),
    Needs('due_time', 'time_zone is only for a task with a due_time', mode),
  );

/** The zone's canonical name ("europe/berlin" is "Europe/Berlin"), or undefined when unknown. */
function canonicalZone(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(value)) {
    return undefined;
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

const DUE_TIME_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

// Tag names are one line of printable text: no control characters (C0, DEL, C1).
const CONTROL_CHARACTER = /\p{Cc}/u;
export const TAG_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';

const trimmedEach = ({ value }: { value: unknown }): unknown =>
  Array.isArray(value)
    ? value.map((item: unknown) => (typeof item === 'string' ? item.trim() : item))
    : value;

/** Whether a trimmed text is a tag name: 1 to 64 characters, no control characters. */
export const isTagName = (value: string): boolean =>
  value.length > 0 && value.length <= TAG_MAX_LENGTH && !CONTROL_CHARACTER.test(value);

/** The validators of tag names, each already trimmed (a list's `each`, or a query's values). */
export const TagNameRules = (name: string, options: { each: boolean }) => {
  const message = `each of ${name} must be 1 to ${TAG_MAX_LENGTH} characters (after trimming), with no control characters`;
  return [
    IsString({ ...options, message }),
    IsNotEmpty({ ...options, message }),
    MaxLength(TAG_MAX_LENGTH, { ...options, message }),
    ValidateBy(
      {
        name: 'isTagName',
        validator: {
          validate: (value: unknown) => typeof value === 'string' && !CONTROL_CHARACTER.test(value),
          defaultMessage: buildMessage(() => message),
        },
      },
      options,
    ),
    IsWellFormedText(options),
  ];
};

/** A list of up to 20 tag names; matched case-insensitively, duplicates collapse. */
export const TagsField = ({ name, description }: { name: string; description: string }) =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: TAG_MAX_LENGTH, pattern: TAG_PATTERN },
      maxItems: MAX_TAGS,
      example: ['work', 'errands'],
      description,
    }),
    IsOptionalButNotNull(),
    Transform(trimmedEach),
    IsArray({ message: `${name} must be an array of at most ${MAX_TAGS} tag names` }),
    ArrayMaxSize(MAX_TAGS, {
      message: `${name} must be an array of at most ${MAX_TAGS} tag names`,
    }),
    ...TagNameRules(name, { each: true }),
  );

/** A recurrence rule (RFC 5545, without "RRULE:"); null: the task does not repeat. */
export const RecurrenceField = () =>
  applyDecorators(
    ApiProperty({
      required: false,
      type: String,
      nullable: true,
      maxLength: RECURRENCE_MAX_LENGTH,
      example: 'FREQ=WEEKLY;BYDAY=MO,WE',
      description:
        'An RFC 5545 rule (without "RRULE:"), DAILY to YEARLY, with COUNT or UNTIL if it ends; needs a due_date, and completing the task creates the next occurrence. In an update, send due_date, due_time and time_zone with it (null for an all-day task). null: does not repeat.',
    }),
    IsOptional(),
    IsString({ message: 'recurrence must be a text, such as FREQ=WEEKLY;BYDAY=MO,WE, or null' }),
    MaxLength(RECURRENCE_MAX_LENGTH, {
      message: `recurrence must be at most ${RECURRENCE_MAX_LENGTH} characters`,
    }),
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
        'When to send a `reminder` event on the caller’s event stream (`GET …/events`) (RFC 3339, with an offset); null: none. Changing it re-arms the reminder.',
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
