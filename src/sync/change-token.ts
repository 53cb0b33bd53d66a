import { type PageAccounting, takeBudgetedPage } from '../database/page-budget';
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

/** One row of `changesStatement`, as far as positions and the page's size go. */
export interface ChangeRow extends PageAccounting {
  snapshot_xmin: string;
  expired: boolean;
  change_xid: string | null;
  id: string | null;
}

/** Orders positions as the feed does: by transaction, then by id. */
export const comparePositions = (a: FeedPosition, b: FeedPosition): number => {
  const byXid = BigInt(a.xid) - BigInt(b.xid);
  if (byXid !== 0n) return byXid < 0n ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

/**
 * A page of `changesStatement`'s rows (fetched with `limit` + 1 and the byte budget `maxBytes`)
 * and the position to ask from next. The next position never passes the snapshot's xmin: a transaction below it has ended, so
 * nothing can appear there later; a change at or above it is delivered again next time
 * (duplicates are harmless: the client applies changes idempotently), because a transaction
 * still running may commit a smaller id after it. `hasMore` is false when the next position
 * would not move (a long transaction holds the xmin back): the client polls later instead of
 * spinning.
 */
export function pageOfChanges<Row extends ChangeRow>(
  rows: Row[],
  limit: number,
  maxBytes: number,
  requested: FeedPosition,
): {
  changes: Omit<Row, keyof PageAccounting>[];
  next: FeedPosition;
  hasMore: boolean;
  bytes: number;
} {
  const {
    rows: page,
    more,
    bytes,
  } = takeBudgetedPage<Omit<Row, keyof PageAccounting>>(
    rows.filter((row) => row.id !== null),
    limit,
    maxBytes,
  );
  const settled: FeedPosition = { xid: rows[0]?.snapshot_xmin ?? requested.xid, id: NIL_UUID };
  const atLeastRequested = (position: FeedPosition): FeedPosition =>
    comparePositions(position, requested) < 0 ? requested : position;

  if (!more) {
    return { changes: page, next: atLeastRequested(settled), hasMore: false, bytes };
  }
  const last = page[page.length - 1];
  const lastPosition = { xid: last.change_xid as string, id: last.id as string };
  if (comparePositions(lastPosition, settled) < 0) {
    return { changes: page, next: lastPosition, hasMore: true, bytes };
  }
  const next = atLeastRequested(settled);
  return { changes: page, next, hasMore: comparePositions(next, requested) > 0, bytes };
}
