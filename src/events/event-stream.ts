import { PassThrough } from 'node:stream';
import { comparePositions, type FeedPosition } from '../sync/change-token';

/** Bytes a stream may hold unsent for a slow client; past it the stream ends (see `write`). */
export const MAX_BUFFERED_BYTES = 256 * 1024;
/** Changes above the settled position a stream remembers, so that re-reads do not repeat them. */
export const MAX_REMEMBERED_CHANGES = 1000;
/** The reconnection delay a client's EventSource is told to use (ms). */
export const RECONNECT_DELAY_MS = 1000;

/** A change ready to send: its place in the feed and its event's `data`. */
export interface StreamChange {
  position: FeedPosition;
  data: string;
}

const keyOf = (position: FeedPosition): string => `${position.xid}:${position.id}`;
const later = (a: FeedPosition, b: FeedPosition): FeedPosition =>
  comparePositions(a, b) >= 0 ? a : b;
const earlier = (a: FeedPosition, b: FeedPosition): FeedPosition =>
  comparePositions(a, b) <= 0 ? a : b;

/**
 * One open `text/event-stream` response. It knows how far into the changes feed its client is
 * (`position`: every change at or below it has been sent) and which changes above that it has
 * sent already, because a feed read repeats the changes of transactions that may still be
 * followed by an earlier one (docs/sync.md): the client sees each change once per connection.
 */
export class EventStream {
  readonly body = new PassThrough();
  private readonly sentAbove = new Map<string, FeedPosition>();
  private ended = false;

  constructor(
    readonly userId: string,
    public position: FeedPosition,
    private readonly encodeId: (position: FeedPosition) => string,
  ) {}

  get isOpen(): boolean {
    return !this.ended;
  }

  /** The first bytes: the client's reconnection delay, and the position as the last event id. */
  open(): void {
    this.write(`retry: ${RECONNECT_DELAY_MS}\n`);
    this.event('ready', '{}', this.encodeId(this.position));
  }

  /**
   * The changes of one feed read that began at or below this stream's position and that covers
   * every change up to `next`. Each event's id is a position from which a resumed stream misses
   * nothing after it; the last one's is the new position.
   */
  deliver(changes: readonly StreamChange[], next: FeedPosition): void {
    const target = later(this.position, next);
    const fresh = changes.filter(
      (change) =>
        comparePositions(change.position, this.position) > 0 &&
        !this.sentAbove.has(keyOf(change.position)),
    );
    fresh.forEach((change, index) => {
      // Resuming from a change's own position is safe only below the settled end of the read
      // (nothing can still commit before it); from the end itself, the rest comes again.
      const id = index === fresh.length - 1 ? target : earlier(change.position, target);
      this.event('change', change.data, this.encodeId(id));
      if (comparePositions(change.position, target) >= 0) {
        this.remember(change.position);
      }
    });
    this.position = target;
    for (const [key, position] of this.sentAbove) {
      if (comparePositions(position, target) <= 0) this.sentAbove.delete(key);
    }
  }

  /** An event that is not part of the feed (a reminder): no id, so resuming is unchanged. */
  notice(name: string, data: string): void {
    this.event(name, data);
  }

  /** A comment line, so that proxies and load balancers keep an idle stream open. */
  heartbeat(): void {
    this.write(': keep-alive\n\n');
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.body.end();
  }

  private event(name: string, data: string, id?: string): void {
    // `data` is JSON: one line, so one `data:` field.
    this.write(`event: ${name}\n${id === undefined ? '' : `id: ${id}\n`}data: ${data}\n\n`);
  }

  private remember(position: FeedPosition): void {
    if (this.sentAbove.size >= MAX_REMEMBERED_CHANGES) {
      // The oldest is forgotten: a later re-read may repeat it, which a client tolerates.
      const [oldest] = this.sentAbove.keys();
      this.sentAbove.delete(oldest);
    }
    this.sentAbove.set(keyOf(position), position);
  }

  /**
   * A client that does not read its events holds at most MAX_BUFFERED_BYTES here; past that the
   * stream ends and the client reconnects with its last event id, losing nothing.
   */
  private write(text: string): void {
    if (this.ended) return;
    this.body.write(text);
    if (this.body.writableLength > MAX_BUFFERED_BYTES) this.end();
  }
}
