import {
  DEVELOPMENT_JWT_SECRET,
  type Environment,
  type LogLevel,
  type NodeEnv,
} from './environment';
import type { PageLimits } from '../owned-resources/page-memory';

export interface DatabaseSettings {
  /** Null in development and test without DATABASE_URL: an embedded server is started. */
  url: string | null;
  directUrl: string | null;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  preparedStatements: boolean;
  startupRetryMs: number;
  runMigrations: boolean;
}

export interface AuthSettings {
  jwtSecret: string | null;
  jwksUrl: string | null;
  issuer: string | null;
  audience: string | null;
  usesDevelopmentSecret: boolean;
}

/** How long stored state for retries, the trash and sync is kept (specification §9–§11). */
export interface RetentionSettings {
  idempotencyTtlHours: number;
  /** Also the tombstones' lifetime: a sync token older than it is expired. */
  trashRetentionDays: number;
}

/** The secrets that seal cursors and sync tokens (owned-resources/sealed-json.ts). */
export interface SealingSettings {
  current: string;
  /** Accepted when opening, never used to seal: the keys of before a rotation. */
  previous: string[];
}

/** Live events (specification §15, docs/events.md). */
export interface EventSettings {
  /** Streams one process holds at most (then 503); a user holds at most 10 (then 429). */
  maxStreams: number;
  heartbeatMs: number;
}

/** Typed, derived configuration: the only way code reads settings after start-up. */
export class AppConfig {
  constructor(
    readonly nodeEnv: NodeEnv,
    readonly http: {
      port: number;
      host: string;
      /** `/health/live` on a listener and thread of its own (health/liveness-listener.ts). */
      livenessPort: number | null;
      corsOrigins: string[];
      shutdownGraceMs: number;
      /** Requests per caller per minute on the API; 0 turns rate limiting off. */
      rateLimitPerMinute: number;
      /** Redis shared by every replica for the rate limit's counters; null: per process. */
      rateLimitRedisUrl: string | null;
    },
    readonly database: DatabaseSettings,
    readonly auth: AuthSettings,
    readonly logLevel: LogLevel,
    readonly retention: RetentionSettings,
    readonly pages: PageLimits,
    readonly sealing: SealingSettings,
    readonly events: EventSettings,
  ) {}

  static fromEnvironment(env: Environment): AppConfig {
    const embedded = !env.DATABASE_URL;
    const usesDevelopmentSecret =
      env.NODE_ENV !== 'production' && !env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL;
    const jwtSecret =
      env.AUTH_JWT_SECRET ?? (usesDevelopmentSecret ? DEVELOPMENT_JWT_SECRET : null);
    return new AppConfig(
      env.NODE_ENV,
      {
        port: env.PORT,
        host: env.HOST,
        livenessPort: env.LIVENESS_PORT ?? null,
        corsOrigins: (env.CORS_ORIGINS ?? '')
          .split(',')
          .map((origin) => origin.trim())
          .filter((origin) => origin.length > 0),
        shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
        rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
        rateLimitRedisUrl: env.REDIS_URL ?? null,
      },
      {
        url: env.DATABASE_URL ?? null,
        directUrl: env.DATABASE_DIRECT_URL ?? env.DATABASE_URL ?? null,
        poolMax: env.DATABASE_POOL_MAX,
        connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
        statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
        preparedStatements: env.DATABASE_PREPARED_STATEMENTS,
        startupRetryMs: env.DATABASE_STARTUP_RETRY_MS,
        // Migrations are a deployment step against a real database; the embedded one is ours.
        runMigrations: env.DB_MIGRATIONS_RUN ?? embedded,
      },
      {
        jwtSecret,
        jwksUrl: env.AUTH_JWKS_URL ?? null,
        issuer: env.AUTH_JWT_ISSUER ?? null,
        audience: env.AUTH_JWT_AUDIENCE ?? null,
        usesDevelopmentSecret,
      },
      env.LOG_LEVEL,
      {
        idempotencyTtlHours: env.IDEMPOTENCY_TTL_HOURS,
        trashRetentionDays: env.TRASH_RETENTION_DAYS,
      },
      { maxBytes: env.PAGE_MAX_BYTES, bytesInFlight: env.PAGE_BYTES_IN_FLIGHT },
      {
        // Validation guarantees one of them in production; elsewhere the development secret.
        current: env.CURSOR_KEY ?? jwtSecret ?? DEVELOPMENT_JWT_SECRET,
        previous: env.CURSOR_PREVIOUS_KEYS?.split(',') ?? [],
      },
      { maxStreams: env.EVENTS_MAX_STREAMS, heartbeatMs: env.EVENTS_HEARTBEAT_MS },
    );
  }
}
