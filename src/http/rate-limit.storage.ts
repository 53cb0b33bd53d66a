import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import type { MetricsService } from '../metrics/metrics.service';

type StorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

const UNANSWERED = Symbol('unanswered');

/** The command's answer, or UNANSWERED if it has none after `ms` (the command goes on). */
async function answerWithin<T>(command: Promise<T>, ms: number): Promise<T | typeof UNANSWERED> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof UNANSWERED>((resolve) => {
    timer = setTimeout(() => resolve(UNANSWERED), ms);
  });
  try {
    return await Promise.race([command, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The longest a request waits for Redis before it is counted in this process instead: far under
 * the request budget (the database's 5 s statement timeout), far over a healthy round trip.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 500;
/**
 * How long a command may go unanswered before Redis is in doubt (a healthy round trip takes well
 * under a millisecond): from then on one request at a time waits for Redis, the others count in
 * process at once, until Redis answers again.
 */
export const REDIS_DOUBT_AFTER_MS = 50;
/** After a failure, how long until a request tries Redis again; meanwhile all count in process. */
export const REDIS_RETRY_INTERVAL_MS = 1000;
const REDIS_CONNECT_TIMEOUT_MS = 2000;
const REDIS_MAX_RECONNECT_DELAY_MS = 2000;

/**
 * A client that never makes a request wait for a Redis that is down: commands fail at once while
 * disconnected (no offline queue) and after REDIS_COMMAND_TIMEOUT_MS when Redis does not answer;
 * it reconnects on its own, forever, so the shared limit comes back with Redis.
 */
function createRedisClient(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    // A hit sent before a disconnect may have been counted already: never send it twice.
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, REDIS_MAX_RECONNECT_DELAY_MS),
    // At shutdown a closed connection still arms this timer, which holds the process open.
    disconnectTimeout: 100,
  });
}

/**
 * The rate limiter's counters in Redis, shared by every replica (`@nest-lab/throttler-storage-redis`
 * does the atomic count), failing open: when Redis is unreachable, slow or errs, the request is
 * counted in this process's memory instead — the limit is per process until Redis is back, as
 * without REDIS_URL — so a Redis outage never fails a request.
 *
 * A Redis that stops answering (frozen, or a network that drops packets) delays at most one
 * request at a time, and one a second during an outage: once a command has gone unanswered for
 * REDIS_DOUBT_AFTER_MS, Redis is in doubt, that request alone goes on waiting for it (up to the
 * command timeout), and every other request, including those already waiting, counts in process
 * at once. After a failure the next try comes REDIS_RETRY_INTERVAL_MS later. Failed checks are
 * counted in `rate_limit_store_errors_total`, checks that did not wait for a Redis in doubt in
 * `rate_limit_store_bypassed_total`; the outage is logged once when it starts and once when it
 * ends, not per request.
 */
export class FailOpenRedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly shared: ThrottlerStorageRedisService;
  private readonly local = new ThrottlerStorageService();
  private outageStartedAt: number | null = null;
  /** A command went unanswered for REDIS_DOUBT_AFTER_MS, or failed, and none has succeeded since. */
  private inDoubt = false;
  /** Whether the one request allowed to wait for a Redis in doubt is waiting. */
  private probing = false;
  private nextProbeAt = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly metrics: MetricsService,
  ) {
    this.shared = new ThrottlerStorageRedisService(redis);
    // Without an error listener ioredis prints every failed reconnection attempt.
    redis.on('error', (error: Error) => this.markUnavailable(error));
    redis.on('ready', () => this.markAvailable());
  }

  /**
   * Connects before the first request is served, so that the limit is shared from the start; a
   * Redis that is down delays start-up by the connect timeout at most, and the client goes on
   * reconnecting in the background.
   */
  static async connect(
    url: string,
    metrics: MetricsService,
  ): Promise<FailOpenRedisThrottlerStorage> {
    const storage = new FailOpenRedisThrottlerStorage(createRedisClient(url), metrics);
    await storage.redis.connect().catch((error: unknown) => storage.markUnavailable(error));
    return storage;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<StorageRecord> {
    const countLocally = () => this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    if (this.inDoubt && (this.probing || Date.now() < this.nextProbeAt)) {
      this.metrics.countRateLimitStoreBypass();
      return countLocally();
    }
    const command = this.shared.increment(key, ttl, limit, blockDuration, throttlerName);
    let probe = this.inDoubt;
    this.probing ||= probe;
    try {
      let answer = probe ? await command : await answerWithin(command, REDIS_DOUBT_AFTER_MS);
      if (answer === UNANSWERED) {
        if (this.inDoubt) {
          // Another request already waits for Redis: this one stops waiting (and ignores how
          // its command ends).
          this.metrics.countRateLimitStoreBypass();
          return countLocally();
        }
        this.inDoubt = this.probing = probe = true;
        answer = await command;
      }
      this.markAvailable();
      return answer;
    } catch (error) {
      this.metrics.countRateLimitStoreError();
      this.inDoubt = true;
      this.nextProbeAt = Date.now() + REDIS_RETRY_INTERVAL_MS;
      this.markUnavailable(error);
      return countLocally();
    } finally {
      if (probe) this.probing = false;
    }
  }

  onApplicationShutdown(): void {
    this.local.onApplicationShutdown();
    this.redis.disconnect();
  }

  private markUnavailable(error: unknown): void {
    if (this.outageStartedAt !== null) return;
    this.outageStartedAt = Date.now();
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.warn(
      `Redis unavailable (${reason}): rate limits are counted per process until it is back`,
    );
  }

  private markAvailable(): void {
    this.inDoubt = false;
    if (this.outageStartedAt === null) return;
    const seconds = ((Date.now() - this.outageStartedAt) / 1000).toFixed(1);
    this.outageStartedAt = null;
    this.logger.log(`Redis is back after ${seconds} s: rate limits are shared again`);
  }
}
