import { jobStatement } from '../database/periodic-job';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Client, type Notification } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { EventHub } from './event-hub';

/** The channels the write triggers and the reminder claim notify (docs/events.md). */
export const CHANGES_CHANNEL = 'task_changes';
export const REMINDERS_CHANNEL = 'task_reminders';
/** Waits between attempts to reconnect, doubling from the first to the last. */
export const RECONNECT_DELAYS_MS = { first: 100, last: 5000 };

/**
 * The one PostgreSQL connection of this process that LISTENs, outside the request pool: a pool
 * hands a connection to whoever asks, and a LISTEN belongs to one session. It connects to
 * DATABASE_DIRECT_URL, because a transaction-mode pooler (PgBouncer, Neon's `-pooler` host)
 * cannot keep a session's LISTEN. A lost connection (terminated, network gone: a ping on every
 * heartbeat finds out) is replaced, with growing waits, and every user with a stream here is then
 * read from the feed again: notifications sent meanwhile are lost, the changes are not.
 */
@Injectable()
export class ChangeListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('EventsListener');
  private client: Client | null = null;
  private stopped = false;
  private delayMs = RECONNECT_DELAYS_MS.first;
  private ping: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: AppConfig,
    @Inject(DataSource) private readonly dataSource: DataSource,
    private readonly hub: EventHub,
  ) {}

  /** Whether the LISTEN connection is up (a test and the logs read it). */
  get isListening(): boolean {
    return this.client !== null;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.connect();
    this.ping = setInterval(() => void this.checkConnection(), this.config.events.heartbeatMs);
    this.ping.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.ping) clearInterval(this.ping);
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { connectTimeoutMs, statementTimeoutMs } = this.config.database;
    const client = new Client({
      connectionString: this.url(),
      connectionTimeoutMillis: connectTimeoutMs,
      query_timeout: connectTimeoutMs + statementTimeoutMs,
      keepAlive: true,
      application_name: 'tasks-service-events',
    });
    let lost = false;
    const onLost = (error?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      // Expected in operation (a restart, a failover): a warning with what the driver said, and
      // no stack, like the request log's database outages.
      const { code, message } = (error ?? {}) as { code?: string; message?: string };
      this.logger.warn(
        { error: message, sqlState: code, retryInMs: this.delayMs },
        'the LISTEN connection was lost; reconnecting',
      );
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (notification) => this.dispatch(notification));
    try {
      await client.connect();
      await client.query(
        jobStatement('events listener', `LISTEN ${CHANGES_CHANNEL}; LISTEN ${REMINDERS_CHANNEL}`),
      );
    } catch (error) {
      onLost(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (lost || this.stopped) return;
    const reconnected = this.delayMs !== RECONNECT_DELAYS_MS.first;
    this.client = client;
    this.delayMs = RECONNECT_DELAYS_MS.first;
    this.logger.log(`listening for changes on ${CHANGES_CHANNEL} and ${REMINDERS_CHANNEL}`);
    // Whatever was notified while no connection listened is read from the feed now.
    this.hub.catchUpAll();
    if (reconnected) this.logger.log('LISTEN connection restored; streams caught up');
  }

  private scheduleReconnect(): void {
    if (this.retry) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, RECONNECT_DELAYS_MS.last);
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, delay);
    this.retry.unref();
  }

  /** A connection that stopped answering (no error, no FIN) is found by a ping and replaced. */
  private async checkConnection(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await client.query(jobStatement('events listener', 'SELECT 1'));
    } catch (error) {
      client.emit('error', error);
    }
  }

  /** Notifications of one network read arrive together: the hub reads once per user for them. */
  private dispatch({ channel, payload }: Notification): void {
    if (payload === undefined) return;
    if (channel === CHANGES_CHANNEL) {
      this.hub.changed([payload]);
      return;
    }
    if (channel === REMINDERS_CHANNEL) {
      const reminder = parseReminder(payload);
      if (reminder) void this.hub.remind(reminder.user_id, reminder.id);
    }
  }

  private url(): string {
    const direct = this.config.database.directUrl;
    if (direct) return direct;
    // The embedded database of development and tests: the URL the pool was given.
    return (this.dataSource.options as { url: string }).url;
  }
}

function parseReminder(payload: string): { user_id: string; id: string } | null {
  try {
    const parsed = JSON.parse(payload) as unknown;
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as { user_id?: unknown }).user_id === 'string' &&
      typeof (parsed as { id?: unknown }).id === 'string'
    ) {
      return parsed as { user_id: string; id: string };
    }
  } catch {
    // Not ours: another program notifying on the channel.
  }
  return null;
}
