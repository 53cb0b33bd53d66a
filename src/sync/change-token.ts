import { createHash } from 'node:crypto';
import { RequestValidationError } from '../http/request-errors';
import { NIL_UUID } from './sync.statements';

/**
 * A position in a changes feed: every change at or below `(xid, id)` in `(change_xid, id)` order
 * has been delivered. `xid` is a decimal bigint (a 64-bit transaction id), kept as text.
 */
export interface FeedPosition {
  xid: string;
  id: string;
}

/** Where a first sync starts. */
export const FEED_START: FeedPosition = { xid: '0', id: NIL_UUID };

/** One row of `changesStatement`, as far as positions go. */
export interface ChangeRow {
  snapshot_xmin: string;
  expired: boolean;
  change_xid: string | null;
  id: string | null;
}

const TOKEN = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{12})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const XID = /^(0|[1-9]\d{0,18})$/;
const MAX_TOKEN_LENGTH = 256;

/** A checksum, not a signature: a token only positions the caller's own feed. */
const checksum = (json: string): string =>
  createHash('sha256').update(json).digest().subarray(0, 9).toString('base64url');

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

const compare = (a: FeedPosition, b: FeedPosition): number => {
  const byXid = BigInt(a.xid) - BigInt(b.xid);
  if (byXid !== 0n) return byXid < 0n ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

/**
 * A page of `changesStatement`'s rows (fetched with `limit` + 1) and the position to ask from
 * next. The next position never passes the snapshot's xmin: a transaction below it has ended, so
 * nothing can appear there later; a change at or above it is delivered again next time
 * (duplicates are harmless: the client applies changes idempotently), because a transaction
 * still running may commit a smaller id after it. `hasMore` is false when the next position
 * would not move (a long transaction holds the xmin back): the client polls later instead of
 * spinning.
 */
export function pageOfChanges<Row extends ChangeRow>(
  rows: Row[],
  limit: number,
  requested: FeedPosition,
): { changes: Row[]; next: FeedPosition; hasMore: boolean } {
  const changes = rows.filter((row) => row.id !== null);
  const settled: FeedPosition = { xid: rows[0]?.snapshot_xmin ?? requested.xid, id: NIL_UUID };
  const atLeastRequested = (position: FeedPosition): FeedPosition =>
    compare(position, requested) < 0 ? requested : position;

  if (changes.length <= limit) {
    return { changes, next: atLeastRequested(settled), hasMore: false };
  }
  const page = changes.slice(0, limit);
  const last = page[page.length - 1];
  const lastPosition = { xid: last.change_xid as string, id: last.id as string };
  if (compare(lastPosition, settled) < 0) {
    return { changes: page, next: lastPosition, hasMore: true };
  }
  const next = atLeastRequested(settled);
  return { changes: page, next, hasMore: compare(next, requested) > 0 };
}
