import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Client, type Pool } from 'pg';
import {
  comparePositions,
  type FeedChange,
  type FeedPosition,
  feedToken,
  readChanges,
} from './floor-organising';
import { verifyToken } from './tokens';

/**
 * The floor's live events (specification §15, the service's design in docs/events.md) on
 * `node:http` and `pg` alone: `GET /api/:userId/events` with a bearer token, one connection
 * that LISTENs on `task_changes` (the service's trigger notifies it on every committed write), and
 * for each notification naming a user with streams here one read of that user's changes feed
 * (the service's statement, bench/floor-organising.ts) from the earliest position among the
 * user's streams, serialised per user; each stream sends what lies beyond its own position. Its
 * bounds are the service's: 10 streams per user, EVENTS_MAX_STREAMS (2,000) per process, 100
 * changes per read, 1,000 remembered changes per stream. What the benchmark does not exercise
 * (tickets, `Last-Event-ID`, reconnecting the LISTEN connection, reminders) is left out.
 */

const MAX_STREAMS_PER_USER = 10;
const MAX_STREAMS = Number(process.env.EVENTS_MAX_STREAMS ?? 2000);
const FEED_PAGE_SIZE = 100;
const MAX_REMEMBERED_CHANGES = 1000;
const HEARTBEAT_MS = 15_000;
const EVENTS_PATH = /^\/api\/([^/]+)\/events$/;

const keyOf = (position: FeedPosition): string => `${position.xid}:${position.id}`;

class Stream {
  private readonly sentAbove = new Map<string, FeedPosition>();

  constructor(
    readonly response: ServerResponse,
    public position: FeedPosition,
  ) {}

  /** The changes of one read that began at or below this stream's position, up to `next`. */
  deliver(changes: readonly { change: FeedChange; data: string }[], next: FeedPosition): void {
    const target = comparePositions(this.position, next) >= 0 ? this.position : next;
    const fresh = changes.filter(
      ({ change }) =>
        comparePositions(change.position, this.position) > 0 &&
        !this.sentAbove.has(keyOf(change.position)),
    );
    let text = '';
    fresh.forEach(({ change, data }, index) => {
      // As the service: a change's own position is a safe id only below the read's settled end.
      const below = comparePositions(change.position, target) <= 0;
      const id = index === fresh.length - 1 || !below ? target : change.position;
      text += `event: change\nid: ${feedToken(id)}\ndata: ${data}\n\n`;
      if (comparePositions(change.position, target) >= 0) {
        if (this.sentAbove.size >= MAX_REMEMBERED_CHANGES) {
          this.sentAbove.delete(this.sentAbove.keys().next().value as string);
        }
        this.sentAbove.set(keyOf(change.position), change.position);
      }
    });
    if (text !== '') this.response.write(text);
    this.position = target;
    for (const [key, position] of this.sentAbove) {
      if (comparePositions(position, target) <= 0) this.sentAbove.delete(key);
    }
  }
}

class Channel {
  readonly streams = new Set<Stream>();
  dirty = false;
  reading = false;
}

const channels = new Map<string, Channel>();
let held = 0;
let listener: Promise<Client> | null = null;

/** The one LISTEN connection, opened with the first stream. */
function listen(from: Pool): Promise<Client> {
  listener ??= (async () => {
    const client = new Client({
      connectionString: process.env.DATABASE_URL,
      application_name: 'tasks-bench-floor-listener',
    });
    await client.connect();
    client.on('notification', (message) => {
      const channel = message.payload ? channels.get(message.payload) : undefined;
      if (channel) requestRead(from, message.payload as string, channel);
    });
    await client.query('LISTEN task_changes');
    setInterval(() => {
      for (const each of channels.values()) {
        for (const stream of each.streams) stream.response.write(': keep-alive\n\n');
      }
    }, HEARTBEAT_MS).unref();
    return client;
  })();
  return listener;
}

function requestRead(from: Pool, userId: string, channel: Channel): void {
  channel.dirty = true;
  if (channel.reading || channel.streams.size === 0) return;
  channel.reading = true;
  // After the current batch of notifications: one read covers them all.
  setImmediate(() => {
    void read(from, userId, channel)
      .catch((error: unknown) => {
        process.stderr.write(`floor events: ${(error as Error).message}\n`);
      })
      .finally(() => {
        channel.reading = false;
        if (channel.dirty) requestRead(from, userId, channel);
      });
  });
}

async function read(from: Pool, userId: string, channel: Channel): Promise<void> {
  while (channel.dirty && channel.streams.size > 0) {
    channel.dirty = false;
    let since = earliest(channel.streams);
    for (;;) {
      const page = await readChanges(from, userId, since, FEED_PAGE_SIZE);
      const changes = page.changes.map((change) => ({ change, data: JSON.stringify(change.wire) }));
      for (const stream of channel.streams) stream.deliver(changes, page.next);
      if (!page.hasMore || channel.streams.size === 0) break;
      const after = earliest(channel.streams);
      if (comparePositions(after, since) <= 0) break;
      since = after;
    }
  }
}

function earliest(streams: Iterable<Stream>): FeedPosition {
  let first: FeedPosition | null = null;
  for (const stream of streams) {
    if (first === null || comparePositions(stream.position, first) < 0) first = stream.position;
  }
  return first as FeedPosition;
}

const refuse = (response: ServerResponse, status: number, code: string): void => {
  const body = JSON.stringify({ type: 'about:blank', title: code, status, code });
  response.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': randomUUID(),
    ...(status === 429 || status === 503 ? { 'retry-after': '5' } : {}),
  });
  response.end(body);
};

/** `GET /api/:userId/events` (bench/floor.ts routes every path ending in `/events` here). */
export async function openEventStream(
  from: Pool,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<void> {
  const match = EVENTS_PATH.exec(url.pathname);
  if (!match || request.method !== 'GET') return refuse(response, 404, 'NOT_FOUND');
  const userId = decodeURIComponent(match[1]);
  const authorization = request.headers.authorization;
  if (!authorization?.startsWith('Bearer ')) return refuse(response, 401, 'MISSING_TOKEN');
  const token = verifyToken(process.env.AUTH_JWT_SECRET as string, authorization.slice(7));
  if (!token) return refuse(response, 401, 'INVALID_TOKEN');
  if (token.sub !== userId) return refuse(response, 403, 'FORBIDDEN');
  const channel = channels.get(userId) ?? new Channel();
  if (channel.streams.size >= MAX_STREAMS_PER_USER) {
    return refuse(response, 429, 'TOO_MANY_REQUESTS');
  }
  if (held >= MAX_STREAMS) return refuse(response, 503, 'SERVICE_UNAVAILABLE');
  channels.set(userId, channel);
  held++;
  try {
    await listen(from);
    // Where a new stream starts: no transaction below it is still running (the service's
    // statement stream_tickets.feedPosition).
    const { rows } = await from.query<{ snapshot_xmin: string }>({
      name: 'stream_tickets.feedPosition',
      text: 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS snapshot_xmin',
    });
    const position = { xid: rows[0].snapshot_xmin, id: '00000000-0000-0000-0000-000000000000' };
    const stream = new Stream(response, position);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-request-id': randomUUID(),
    });
    response.write(`retry: 1000\nevent: ready\nid: ${feedToken(position)}\ndata: {}\n\n`);
    channel.streams.add(stream);
    response.once('close', () => {
      channel.streams.delete(stream);
      held--;
      if (channel.streams.size === 0) channels.delete(userId);
    });
    // Whatever was committed since the position was taken, notified or not.
    requestRead(from, userId, channel);
  } catch (error) {
    held--;
    if (channel.streams.size === 0) channels.delete(userId);
    throw error;
  }
}
