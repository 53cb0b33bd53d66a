import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MinLength,
  Min,
  validateSync,
  ValidationError,
} from 'class-validator';

/** A fixed secret so that `npm start` works with no configuration; refused in production. */
export const DEVELOPMENT_JWT_SECRET = 'development-only-secret-do-not-use-in-production!';

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Environment strings are untyped; numbers and booleans are parsed strictly, so `PORT=3e3` or
 * `DB_MIGRATIONS_RUN=yes` is reported instead of silently coerced. */
const toInteger = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const normalised = value.trim().toLowerCase();
  if (normalised === 'true' || normalised === '1') return true;
  if (normalised === 'false' || normalised === '0') return false;
  return value;
};
const emptyToUndefined = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** The variables the service reads; anything else in the environment is ignored. */
export const ENVIRONMENT_VARIABLES = [
  'NODE_ENV',
  'PORT',
  'HOST',
  'LIVENESS_PORT',
  'DATABASE_URL',
  'DATABASE_DIRECT_URL',
  'DATABASE_POOL_MAX',
  'DATABASE_CONNECT_TIMEOUT_MS',
  'DATABASE_STATEMENT_TIMEOUT_MS',
  'DATABASE_PREPARED_STATEMENTS',
  'DATABASE_STARTUP_RETRY_MS',
  'DB_MIGRATIONS_RUN',
  'AUTH_JWT_SECRET',
  'AUTH_JWKS_URL',
  'AUTH_JWT_ISSUER',
  'AUTH_JWT_AUDIENCE',
  'CORS_ORIGINS',
  'LOG_LEVEL',
  'SHUTDOWN_GRACE_MS',
  'RATE_LIMIT_PER_MINUTE',
  'IDEMPOTENCY_TTL_HOURS',
  'TRASH_RETENTION_DAYS',
  'REDIS_URL',
  'PAGE_MAX_BYTES',
  'PAGE_BYTES_IN_FLIGHT',
  'CURSOR_KEY',
  'CURSOR_PREVIOUS_KEYS',
  'EVENTS_MAX_STREAMS',
  'EVENTS_HEARTBEAT_MS',
] as const;

const POSTGRES_URL = /^postgres(ql)?:\/\/\S+$/;
const REDIS_URL = /^rediss?:\/\/\S+$/;

/** Every variable of the service's configuration, validated once at start-up (specification §5). */
export class Environment {
  @IsIn(NODE_ENVS)
  NODE_ENV: NodeEnv = 'development';

  @Transform(toInteger)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /**
   * Set by `validateEnvironment` when absent: 0.0.0.0 in production (a container's port is
   * published), else 127.0.0.1, since a development instance accepts tokens signed with the
   * public development secret and must not be reachable from the network by default.
   */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  HOST!: string;

  /** A port of its own for `/health/live`, answered by a thread of its own; unset, none. */
  @Transform((params) => toInteger({ value: emptyToUndefined(params) }))
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  LIVENESS_PORT?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(POSTGRES_URL, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(POSTGRES_URL, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_DIRECT_URL?: string;

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(1000)
  DATABASE_POOL_MAX = 10;

  @Transform(toInteger)
  @IsInt()
  @Min(100)
  DATABASE_CONNECT_TIMEOUT_MS = 5000;

  @Transform(toInteger)
  @IsInt()
  @Min(100)
  DATABASE_STATEMENT_TIMEOUT_MS = 5000;

  @Transform(toBoolean)
  @IsBoolean()
  DATABASE_PREPARED_STATEMENTS = true;

  @Transform(toInteger)
  @IsInt()
  @Min(0)
  DATABASE_STARTUP_RETRY_MS = 30000;

  @Transform(toBoolean)
  @IsOptional()
  @IsBoolean()
  DB_MIGRATIONS_RUN?: boolean;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32)
  AUTH_JWT_SECRET?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  AUTH_JWKS_URL?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  AUTH_JWT_ISSUER?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  AUTH_JWT_AUDIENCE?: string;

  @IsOptional()
  @IsString()
  CORS_ORIGINS?: string;

  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.trim().toLowerCase() : value,
  )
  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevel = 'info';

  @Transform(toInteger)
  @IsInt()
  @Min(0)
  SHUTDOWN_GRACE_MS = 10000;

  /** Requests per caller (token subject, else client address) per minute on /api; 0 is off. */
  @Transform(toInteger)
  @IsInt()
  @Min(0)
  RATE_LIMIT_PER_MINUTE = 0;

  /** How long an `Idempotency-Key` replays its first answer (specification §9). */
  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(8760)
  IDEMPOTENCY_TTL_HOURS = 24;

  /** How long a trashed task can be restored before it is purged (specification §11); also how
   * long the changes feed keeps tombstones, so an older sync token is expired. */
  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(3650)
  TRASH_RETENTION_DAYS = 30;
  /** Where every replica keeps the rate limiter's counters; unset, each process counts alone. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(REDIS_URL, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /** The byte budget of a page of a list or a changes feed: its texts, and 256 bytes a row. */
  @Transform(toInteger)
  @IsInt()
  @Min(64 * 1024)
  @Max(64 * 1024 * 1024)
  PAGE_MAX_BYTES = 1024 * 1024;

  /** The bytes of pages the process holds at once; past it a page is answered 503. */
  @Transform(toInteger)
  @IsInt()
  @Min(64 * 1024)
  @Max(1024 * 1024 * 1024)
  PAGE_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

  /** Seals cursors and sync tokens; unset, a key is derived from AUTH_JWT_SECRET. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32)
  CURSOR_KEY?: string;

  /** Keys that sealed cursors and tokens before a rotation: still opened, never used to seal. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^[^,]{32,}(,[^,]{32,})*$/, {
    message: 'must be keys of at least 32 characters each, separated by commas',
  })
  CURSOR_PREVIOUS_KEYS?: string;

  /** Open event streams (`GET /api/:userId/events`) one process holds at most; then 503. */
  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(100_000)
  EVENTS_MAX_STREAMS = 2000;

  /** How often an event stream sends a comment, so that proxies keep it open. */
  @Transform(toInteger)
  @IsInt()
  @Min(1000)
  @Max(300_000)
  EVENTS_HEARTBEAT_MS = 15_000;
}

export class InvalidEnvironmentError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment: ${problems.join('; ')}`);
    this.name = 'InvalidEnvironmentError';
  }
}

const describe = (error: ValidationError): string => {
  const expectations = Object.values(error.constraints ?? {}).map((message) =>
    // class-validator names the property at the start of its messages; say it once.
    message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message,
  );
  return `${error.property} ${expectations.join(', ')}`;
};

/**
 * Validates the raw environment and returns typed, defaulted values. Throws one
 * `InvalidEnvironmentError` naming every offending variable, so that a deployment with three
 * typos is fixed in one go.
 */
export function validateEnvironment(
  raw: Record<string, unknown>,
  /** The migration CLI needs the database settings only, not the service's auth settings. */
  { requireAuth = true }: { requireAuth?: boolean } = {},
): Environment {
  const input: Record<string, unknown> = {};
  for (const key of ENVIRONMENT_VARIABLES) {
    if (raw[key] !== undefined) input[key] = raw[key];
  }
  const env = plainToInstance(Environment, input, { exposeDefaultValues: true });
  env.HOST ??= env.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1';
  const problems = validateSync(env, { skipMissingProperties: false }).map(describe);

  if (env.NODE_ENV === 'production') {
    if (!env.DATABASE_URL) problems.push('DATABASE_URL is required when NODE_ENV=production');
    if (requireAuth && !env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
      problems.push('AUTH_JWT_SECRET or AUTH_JWKS_URL is required when NODE_ENV=production');
    }
  }
  if (env.NODE_ENV === 'production' && env.AUTH_JWT_SECRET === DEVELOPMENT_JWT_SECRET) {
    problems.push('AUTH_JWT_SECRET must not be the public development secret in production');
  }
  if (env.NODE_ENV === 'production' && requireAuth && env.AUTH_JWKS_URL && !env.CURSOR_KEY) {
    problems.push('CURSOR_KEY is required when NODE_ENV=production and AUTH_JWKS_URL is set');
  }
  if (env.PAGE_BYTES_IN_FLIGHT < env.PAGE_MAX_BYTES) {
    problems.push('PAGE_BYTES_IN_FLIGHT must be at least PAGE_MAX_BYTES');
  }
  if (env.AUTH_JWT_SECRET && env.AUTH_JWKS_URL) {
    problems.push('AUTH_JWT_SECRET and AUTH_JWKS_URL are exclusive: set one of them');
  }
  if (problems.length > 0) throw new InvalidEnvironmentError(problems);
  return env;
}
