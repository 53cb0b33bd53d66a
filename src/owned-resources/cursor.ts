import { RequestValidationError } from '../http/request-errors';
import type { CursorPart, OwnedEntity, OwnedResource, SortBy } from './owned-resource';
import type { Cursor } from './owned.repository';
import { seal, unseal } from './sealed-json';

/**
 * A cursor holds a sort value of at most 255 characters (each at most 6 bytes JSON-escaped), an
 * id and the sort's name, sealed: about 2,200 characters at most. The query DTOs refuse longer.
 */
export const MAX_CURSOR_LENGTH = 4096;
const PURPOSE = 'cursor';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The repository writes timestamps with `toISOString()` (millisecond precision, UTC).
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The opaque `cursor` query parameter: the repository's `Cursor`, sealed (sealed-json.ts). */
export function encodeCursor(cursor: Cursor): string {
  return seal(PURPOSE, [cursor.sort, cursor.value, cursor.id]);
}

/**
 * Reads a cursor issued by `encodeCursor` for the same sort order of the same resource. Anything
 * else (altered, built by hand, cut short, another sort, a value not of the sort's type) is a 400
 * rather than a page that starts somewhere unexpected, or a value the database would refuse.
 */
export function decodeCursor<E extends OwnedEntity, Sort extends string>(
  encoded: string,
  sort: Sort,
  resource: OwnedResource<E, Sort>,
): Cursor<Sort> {
  const invalid = (why: string): RequestValidationError =>
    RequestValidationError.of('cursor', `cursor ${why}; use the URL of the Link header as is`);
  const notIssued = (): RequestValidationError => invalid('is not a cursor this service issued');

  const decoded = unseal(PURPOSE, encoded, MAX_CURSOR_LENGTH);
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 3 ||
    !decoded.every((part) => typeof part === 'string')
  ) {
    throw notIssued();
  }
  const [cursorSort, value, id] = decoded as [string, string, string];
  if (cursorSort !== sort) {
    const issuedFor = Object.hasOwn(resource.sorts, cursorSort)
      ? `sort=${cursorSort}`
      : 'another sort';
    throw invalid(`belongs to ${issuedFor}, not sort=${sort}`);
  }
  if (!UUID.test(id) || !isValue(resource.sorts[sort], value)) throw notIssued();
  return { sort, value, id };
}

// Round-tripped: Date.parse forgives dates that do not exist (2023-02-30).
const isTimestamp = (value: string): boolean => ISO_TIMESTAMP.test(value) && isRealInstant(value);
const isDate = (value: string): boolean =>
  ISO_DATE.test(value) && isRealInstant(`${value}T00:00:00.000Z`);

function isRealInstant(value: string): boolean {
  const instant = new Date(value);
  return !Number.isNaN(instant.getTime()) && instant.toISOString() === value;
}

const PART_CHECKS: Record<CursorPart, (part: string) => boolean> = {
  timestamp: isTimestamp,
  'timestamp?': (part) => part === '' || isTimestamp(part),
  'date?': (part) => part === '' || isDate(part),
  boolean: (part) => part === 'true' || part === 'false',
};

/** Whether `value` is one the sort key can have, as the repository writes it. */
function isValue<E>(key: SortBy<E>, value: string): boolean {
  switch (key.type) {
    case 'text':
      // Each character is at most two UTF-16 code units.
      return value.length > 0 && value.length <= 2 * key.maxLength && !value.includes('\u0000');
    case 'timestamp':
      return isTimestamp(value);
    case 'enum':
      return key.values.includes(value);
    case 'composite': {
      const parts = value.split(' ');
      return (
        parts.length === key.parts.length &&
        parts.every((part, index) => PART_CHECKS[key.parts[index]](part))
      );
    }
  }
}

/** A composite cursor value's parts, an empty part (a null) as null. */
export const cursorParts = (value: string): (string | null)[] =>
  value.split(' ').map((part) => (part === '' ? null : part));

/** A composite cursor value of a row's sort key values, null as an empty part. */
export const compositeValue = (parts: readonly (string | boolean | null)[]): string =>
  parts.map((part) => (part === null ? '' : String(part))).join(' ');
