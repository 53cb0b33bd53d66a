import { RequestValidationError } from '../http/request-errors';
import type { FeedPosition } from '../sync/change-token';
import { seal, unseal } from './sealed-json';

/*
 * The opaque sync token of a changes feed (`since` and `next`): a feed position, sealed like the
 * list cursor (sealed-json.ts), so that a client can neither read its transaction id nor edit it.
 * Read at the HTTP edge, so a token that is not one is a 400 on `since`.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const XID = /^(0|[1-9]\d{0,18})$/;
/** A sealed position is about 140 characters; the query DTO refuses longer tokens. */
export const MAX_TOKEN_LENGTH = 256;
const purpose = (resource: string): string => `feed:${resource}`;

/** The opaque `next` token of a feed of `resource`. */
export function encodeChangeToken(resource: string, position: FeedPosition): string {
  return seal(purpose(resource), [resource, position.xid, position.id]);
}

/** Reads a token issued by `encodeChangeToken` for the same resource; anything else is a 400. */
export function decodeChangeToken(resource: string, token: string): FeedPosition {
  const invalid = (): RequestValidationError =>
    RequestValidationError.of(
      'since',
      `since is not a token this service issued for ${resource}; use the "next" of a previous answer, or omit it for a full sync`,
    );
  const decoded = unseal(purpose(resource), token, MAX_TOKEN_LENGTH);
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
