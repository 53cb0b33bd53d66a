import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ShutdownService } from '../health/shutdown.service';
import { CapacityReachedError } from '../http/request-errors';
import { wireChange } from '../owned-resources/changes-feed';
import { encodeChangeToken } from '../owned-resources/feed-token';
import { comparePositions, type FeedPosition } from '../sync/change-token';
import type { Change } from '../owned-resources/owned.repository';
import { toTaskResponse } from '../tasks/dto/task.response';
import type { Task } from '../tasks/task.entity';
import { TasksRepository } from '../tasks/tasks.repository';
import { TASKS } from '../tasks/tasks.resource';
import { EventStream, type StreamChange } from './event-stream';

/** Streams one user may hold open at once, over every device and tab (specification §15). */
export const MAX_STREAMS_PER_USER = 10;
/** Changes per feed read: a user's backlog is sent a page at a time. */
export const FEED_PAGE_SIZE = 100;
/** How long a failed feed read waits before it is tried again. */
export const READ_RETRY_MS = 1000;

/** The streams of one user in this process, and the one feed read they share. */
class UserChannel {
  readonly streams = new Set<EventStream>();
  /** Streams being opened: they count toward the limits, and notifications wait for them. */
  opening = 0;
  /** A notification arrived since the last read began. */
  dirty = false;
  reading = false;
}

/** A stream being opened: `attach` it once its first bytes are ready, or `release` it. */
export interface StreamSlot {
  attach(stream: EventStream): void;
  release(): void;
}

/**
 * Every open event stream of this process, by user. A notification that a user's tasks changed
 * (from any replica, through `ChangeListener`) leads to one feed read for that user, however many
 * streams and notifications there are: reads are serialised per user, and notifications that
 * arrive during one cause exactly one more. The read starts from the earliest position among the
 * user's streams; each stream sends what lies beyond its own.
 */
@Injectable()
export class EventHub implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Events');
  private readonly channels = new Map<string, UserChannel>();
  private held = 0;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly tasks: TasksRepository,
    private readonly shutdown: ShutdownService,
  ) {}

  /** Open streams and streams being opened, in this process. */
  get size(): number {
    return this.held;
  }

  onApplicationBootstrap(): void {
    this.heartbeat = setInterval(() => this.beat(), this.config.events.heartbeatMs);
    this.heartbeat.unref();
    // SIGTERM ends every stream at once: clients reconnect, through the load balancer, to a
    // replica that is not going away, and no stream holds this one past its drain.
    this.shutdown.onShutdown(() => this.closeAll());
  }

  beforeApplicationShutdown(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.closeAll();
  }

  /** Reserves a stream for `userId`, or refuses: 429 past the user's share, 503 past ours. */
  reserve(userId: string): StreamSlot {
    if (this.shutdown.isShuttingDown) {
      throw new CapacityReachedError(
        'process',
        'This instance is shutting down: reconnect, and another will serve the stream.',
        1,
      );
    }
    const channel = this.channels.get(userId) ?? new UserChannel();
    if (channel.streams.size + channel.opening >= MAX_STREAMS_PER_USER) {
      throw new CapacityReachedError(
        'caller',
        `You have ${MAX_STREAMS_PER_USER} event streams open, the most one user may: close one first.`,
        5,
      );
    }
    if (this.held >= this.config.events.maxStreams) {
      throw new CapacityReachedError(
        'process',
        'This instance holds as many event streams as it may: reconnect, and another will serve the stream.',
        5,
      );
    }
    this.channels.set(userId, channel);
    channel.opening++;
    this.held++;
    let pending = true;
    const settle = (): boolean => {
      if (!pending) return false;
      pending = false;
      channel.opening--;
      return true;
    };
    return {
      attach: (stream) => {
        if (!settle()) return;
        channel.streams.add(stream);
        stream.body.once('close', () => this.detach(userId, channel, stream));
        // Whatever was committed since the stream's position was taken, notified or not.
        this.requestRead(userId, channel);
      },
      release: () => {
        if (!settle()) return;
        this.held--;
        this.dropIfEmpty(userId, channel);
      },
    };
  }

  /**
   * The first bytes of a stream reserved with `reserve`: with `resumed` (the client sent
   * `Last-Event-ID`), the first page of what it missed, read before the response starts so that
   * an expired or unusable position is still answered as a problem (410, 503).
   */
  async start(userId: string, position: FeedPosition, resumed: boolean): Promise<EventStream> {
    const stream = new EventStream(userId, position, taskFeedToken);
    const page = resumed ? await this.tasks.changes(userId, position, FEED_PAGE_SIZE) : null;
    stream.open();
    if (page) stream.deliver(streamChanges(page.changes), page.next);
    return stream;
  }

  /** These users' tasks changed (one notification per committed transaction). */
  changed(userIds: Iterable<string>): void {
    for (const userId of userIds) {
      const channel = this.channels.get(userId);
      if (channel) this.requestRead(userId, channel);
    }
  }

  /** Notifications may have been missed (the listening connection was lost): read for everyone. */
  catchUpAll(): void {
    this.changed([...this.channels.keys()]);
  }

  /** A reminder was claimed: every stream of its owner here gets the task, once. */
  async remind(userId: string, taskId: string): Promise<void> {
    const channel = this.channels.get(userId);
    if (!channel || channel.streams.size === 0) return;
    try {
      const task = await this.tasks.findOne(userId, taskId);
      // Completed or trashed since the claim: the reminder has nothing left to say.
      if (!task || task.completed) return;
      const data = JSON.stringify(toTaskResponse(task));
      for (const stream of channel.streams) stream.notice('reminder', data);
    } catch (error) {
      this.logger.warn({ err: error, taskId }, 'a reminder could not be read; it is not sent');
    }
  }

  closeAll(): void {
    for (const channel of this.channels.values()) {
      for (const stream of channel.streams) stream.end();
    }
  }

  private detach(userId: string, channel: UserChannel, stream: EventStream): void {
    if (!channel.streams.delete(stream)) return;
    this.held--;
    stream.end();
    this.dropIfEmpty(userId, channel);
  }

  private dropIfEmpty(userId: string, channel: UserChannel): void {
    if (channel.streams.size === 0 && channel.opening === 0) this.channels.delete(userId);
  }

  private requestRead(userId: string, channel: UserChannel): void {
    channel.dirty = true;
    if (channel.reading || channel.opening > 0 || channel.streams.size === 0) return;
    channel.reading = true;
    // After the current batch of notifications has been taken in: one read covers them all.
    setImmediate(() => {
      void this.read(userId, channel).finally(() => {
        channel.reading = false;
        if (channel.dirty && channel.opening === 0) this.requestRead(userId, channel);
      });
    });
  }

  private async read(userId: string, channel: UserChannel): Promise<void> {
    while (channel.dirty && channel.streams.size > 0) {
      channel.dirty = false;
      let from = earliestPosition(channel.streams);
      for (;;) {
        let page;
        try {
          page = await this.tasks.changes(userId, from, FEED_PAGE_SIZE);
        } catch (error) {
          this.logger.warn({ err: error }, 'a feed read for live events failed; retrying');
          channel.dirty = true;
          await new Promise((resume) => setTimeout(resume, READ_RETRY_MS).unref());
          break;
        }
        const changes = streamChanges(page.changes);
        for (const stream of channel.streams) stream.deliver(changes, page.next);
        if (!page.hasMore || channel.streams.size === 0) break;
        const after = earliestPosition(channel.streams);
        if (comparePositions(after, from) <= 0) break;
        from = after;
      }
    }
  }

  private beat(): void {
    for (const channel of this.channels.values()) {
      for (const stream of channel.streams) stream.heartbeat();
    }
  }
}

const streamChanges = (changes: readonly Change<Task>[]): StreamChange[] =>
  changes.map((change) => ({
    position: change.position,
    data: JSON.stringify(wireChange(change, toTaskResponse)),
  }));

const earliestPosition = (streams: Iterable<EventStream>): FeedPosition => {
  let earliest: FeedPosition | null = null;
  for (const stream of streams) {
    if (earliest === null || comparePositions(stream.position, earliest) < 0) {
      earliest = stream.position;
    }
  }
  if (earliest === null) throw new Error('a channel without streams has no position');
  return earliest;
};

/** The id of an event: a token of the tasks' changes feed (usable as its `since`). */
export const taskFeedToken = (position: FeedPosition): string =>
  encodeChangeToken(TASKS.table, position);
