import { RequestValidationError } from '../http/request-errors';
import { TASK_SORTS, type TaskCursor, type TaskSort } from './task-query';

// A cursor holds a title of at most 255 characters, JSON-escaped: a few KiB at the very most.
const MAX_ENCODED_LENGTH = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The repository writes timestamps with `toISOString()` (millisecond precision, UTC).
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The opaque `cursor` query parameter: the repository's `TaskCursor` as base64url JSON. */
export function encodeCursor(cursor: TaskCursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.value, cursor.id])).toString('base64url');
}

/**
 * Reads a cursor issued by `encodeCursor` for the same sort order. Anything else (not base64url,
 * not the expected JSON, another sort, a value that is not of the sort's type) is a 400: a
 * cursor is never trusted to be one we issued. A well-formed cursor only ever positions a page
 * within the caller's own tasks, so it needs no signature.
 */
export function decodeCursor(encoded: string, sort: TaskSort): TaskCursor {
  const invalid = (why: string): RequestValidationError =>
    RequestValidationError.of('cursor', `cursor ${why}; use the URL of the Link header as is`);
  if (encoded.length > MAX_ENCODED_LENGTH || !BASE64URL.test(encoded)) {
    throw invalid('is not a cursor this service issued');
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw invalid('is not a cursor this service issued');
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 3 ||
    !decoded.every((part) => typeof part === 'string')
  ) {
    throw invalid('is not a cursor this service issued');
  }
  const [cursorSort, value, id] = decoded as [string, string, string];
  if (cursorSort !== sort) {
    const issuedFor = (TASK_SORTS as readonly string[]).includes(cursorSort)
      ? `sort=${cursorSort}`
      : 'another sort';
    throw invalid(`belongs to ${issuedFor}, not sort=${sort}`);
  }
  if (!UUID.test(id) || !isValidSortValue(sort, value)) {
    throw invalid('is not a cursor this service issued');
  }
  return { sort, value, id };
}

function isValidSortValue(sort: TaskSort, value: string): boolean {
  if (sort === 'title' || sort === '-title') {
    // 255 characters, each at most two UTF-16 code units.
    return value.length > 0 && value.length <= 510 && !value.includes('\u0000');
  }
  return ISO_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value));
}
