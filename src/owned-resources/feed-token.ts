import { hash } from 'node:crypto';
import { RequestValidationError } from '../http/request-errors';
import type { FeedPosition } from '../sync/change-token';

/*
 * The opaque sync token of a changes feed (`since` and `next`): a feed position as base64url JSON,
 * then a dot and a checksum of that JSON, like the list cursor (cursor.ts). Read at the HTTP edge,
 * so a token that is not one is a 400 on `since`.
 */

const TOKEN = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{12})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const XID = /^(0|[1-9]\d{0,18})$/;
const MAX_TOKEN_LENGTH = 256;

/** A checksum, not a signature: a token only positions the caller's own feed. */
const checksum = (json: string): string =>
  hash('sha256', json, 'buffer').subarray(0, 9).toString('base64url');

/** The opaque `next` token of a feed of `resource`. */
export function encodeChangeToken(resource: string, position: FeedPosition): string {
  const json = JSON.stringify([resource, position.xid, position.id]);
  return `${Buffer.from(json).toString('base64url')}.${checksum(json)}`;
}

/** Reads a token issued by `encodeChangeToken` for the same resource; anything else is a 400. */
export function decodeChangeToken(resource: string, token: string): FeedPosition {
  const invalid = (): RequestValidationError =>
    RequestValidationError.of(
      'since',
      `since is not a token this service issued for ${resource}; use the "next" of a previous answer, or omit it for a full sync`,
    );
  const parts = token.length <= MAX_TOKEN_LENGTH ? TOKEN.exec(token) : null;
  if (!parts) throw invalid();
  const json = Buffer.from(parts[1], 'base64url').toString('utf8');
  if (Buffer.from(json).toString('base64url') !== parts[1] || checksum(json) !== parts[2]) {
    throw invalid();
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(json);
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 3) throw invalid();
  const [tokenResource, xid, id] = decoded as unknown[];
  if (
    tokenResource !== resource ||
    typeof xid !== 'string' ||
    !XID.test(xid) ||
    BigInt(xid) > 2n ** 63n - 1n ||
    typeof id !== 'string' ||
    !UUID.test(id)
  ) {
    throw invalid();
  }
  return { xid, id };
}
