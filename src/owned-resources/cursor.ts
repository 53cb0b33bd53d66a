import { hash } from 'node:crypto';
import { RequestValidationError } from '../http/request-errors';
import type { OwnedEntity, OwnedResource } from './owned-resource';
import type { Cursor } from './owned.repository';

// A cursor holds a text of at most a few hundred characters, JSON-escaped: a few KiB at most.
const MAX_ENCODED_LENGTH = 4096;
const CURSOR = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{12})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The repository writes timestamps with `toISOString()` (millisecond precision, UTC).
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A checksum, not a signature: it catches a cursor altered or cut short on its way back.
 * `hash` is node:crypto's one-shot digest, half the cost of a `createHash` object. */
const checksum = (json: string): string =>
  hash('sha256', json, 'buffer').subarray(0, 9).toString('base64url');

/**
 * The opaque `cursor` query parameter: the repository's `Cursor` as base64url JSON, then a dot
 * and a checksum of that JSON.
 */
export function encodeCursor(cursor: Cursor): string {
  const json = JSON.stringify([cursor.sort, cursor.value, cursor.id]);
  return `${Buffer.from(json).toString('base64url')}.${checksum(json)}`;
}

/**
 * Reads a cursor issued by `encodeCursor` for the same sort order of the same resource. Anything
 * else (altered, cut short, another sort, a value not of the sort's type) is a 400 rather than a
 * page that starts somewhere unexpected. A cursor needs no secret: whatever it holds, it only
 * positions a page within the caller's own rows.
 */
export function decodeCursor<E extends OwnedEntity, Sort extends string>(
  encoded: string,
  sort: Sort,
  resource: OwnedResource<E, Sort>,
): Cursor<Sort> {
  const invalid = (why: string): RequestValidationError =>
    RequestValidationError.of('cursor', `cursor ${why}; use the URL of the Link header as is`);
  const notIssued = (): RequestValidationError => invalid('is not a cursor this service issued');

  const parts = encoded.length <= MAX_ENCODED_LENGTH ? CURSOR.exec(encoded) : null;
  if (!parts) throw notIssued();
  const json = Buffer.from(parts[1], 'base64url').toString('utf8');
  // Re-encoding catches what decoding forgives: stray padding bits, invalid UTF-8.
  if (Buffer.from(json).toString('base64url') !== parts[1] || checksum(json) !== parts[2]) {
    throw notIssued();
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(json);
  } catch {
    throw notIssued();
  }
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
  const key = resource.sorts[sort];
  const validValue =
    key.type === 'text'
      ? // Each character is at most two UTF-16 code units.
        value.length > 0 && value.length <= 2 * key.maxLength && !value.includes('\u0000')
      : ISO_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value));
  if (!UUID.test(id) || !validValue) throw notIssued();
  return { sort, value, id };
}
