import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { createApp } from '../src/app.factory';
import { AppConfig } from '../src/config/app-config';
import { ConfigModule, type ConfigNamespaces } from '../src/config/config.module';
import { readEnvironment } from '../src/config/environment-file';
import type * as EnvironmentModule from '../src/config/environment';
import {
  DEVELOPMENT_JWT_SECRET,
  InvalidEnvironmentError,
  validateEnvironment,
} from '../src/config/environment';
import { testConfig } from './support/test-app';
import { createTestDatabase } from './support/test-database';

// The real validation, counted: building the application must not validate a second time.
jest.mock('../src/config/environment', () => {
  const actual = jest.requireActual<typeof EnvironmentModule>('../src/config/environment');
  return { ...actual, validateEnvironment: jest.fn(actual.validateEnvironment) };
});
const validations = jest.mocked(validateEnvironment);

// FR-001: configuration from the environment, validated once, all problems reported together.
describe('environment validation', () => {
  const problemsOf = (raw: Record<string, string>): string[] => {
    try {
      validateEnvironment(raw);
    } catch (error) {
      if (error instanceof InvalidEnvironmentError) return error.problems;
      throw error;
    }
    throw new Error('expected the environment to be refused');
  };

  it('applies the documented defaults to an empty environment', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      HOST: '127.0.0.1',
      DATABASE_POOL_MAX: 10,
      LOG_LEVEL: 'info',
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('listens on loopback unless in production: the development secret is public', () => {
    expect(validateEnvironment({ NODE_ENV: 'test' }).HOST).toBe('127.0.0.1');
    const production = {
      DATABASE_URL: 'postgresql://db/tasks',
      AUTH_JWKS_URL: 'https://id/jwks',
      CURSOR_KEY: 'k'.repeat(32),
    };
    expect(validateEnvironment({ NODE_ENV: 'production', ...production }).HOST).toBe('0.0.0.0');
    expect(validateEnvironment({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('keeps idempotency keys 24 hours and the trash 30 days unless told otherwise', () => {
    expect(AppConfig.fromEnvironment(validateEnvironment({})).retention).toEqual({
      idempotencyTtlHours: 24,
      trashRetentionDays: 30,
    });
    const config = AppConfig.fromEnvironment(
      validateEnvironment({ IDEMPOTENCY_TTL_HOURS: '48', TRASH_RETENTION_DAYS: '7' }),
    );
    expect(config.retention).toEqual({ idempotencyTtlHours: 48, trashRetentionDays: 7 });
    const problems = problemsOf({ IDEMPOTENCY_TTL_HOURS: '0', TRASH_RETENTION_DAYS: '1.5' });
    expect(problems.map((problem) => problem.split(' ')[0]).sort()).toEqual([
      'IDEMPOTENCY_TTL_HOURS',
      'TRASH_RETENTION_DAYS',
    ]);
  });

  it('parses numbers and booleans strictly', () => {
    const env = validateEnvironment({
      PORT: '8080',
      DATABASE_POOL_MAX: '4',
      DB_MIGRATIONS_RUN: 'false',
      LOG_LEVEL: 'DEBUG',
    });
    expect(env).toMatchObject({
      PORT: 8080,
      DATABASE_POOL_MAX: 4,
      DB_MIGRATIONS_RUN: false,
      LOG_LEVEL: 'debug',
    });
  });

  it('names every offending variable in one error', () => {
    const problems = problemsOf({
      NODE_ENV: 'staging',
      PORT: 'eighty',
      DATABASE_URL: 'mysql://nope',
      DATABASE_POOL_MAX: '0',
      AUTH_JWT_SECRET: 'short',
      DB_MIGRATIONS_RUN: 'yes',
      LOG_LEVEL: 'loud',
    });
    const named = problems.map((problem) => problem.split(' ')[0]).sort();
    expect(named).toEqual(
      [
        'AUTH_JWT_SECRET',
        'DATABASE_POOL_MAX',
        'DATABASE_URL',
        'DB_MIGRATIONS_RUN',
        'LOG_LEVEL',
        'NODE_ENV',
        'PORT',
      ].sort(),
    );
    expect(problems.join('\n')).toMatch(/AUTH_JWT_SECRET must be longer than or equal to 32/);
  });

  it('takes REDIS_URL as a redis:// or rediss:// URL, and none means per-process rate limits', () => {
    const redisUrlOf = (raw: Record<string, string>) =>
      AppConfig.fromEnvironment(validateEnvironment(raw)).http.rateLimitRedisUrl;
    expect(redisUrlOf({ REDIS_URL: 'redis://cache:6379/2' })).toBe('redis://cache:6379/2');
    expect(redisUrlOf({ REDIS_URL: 'rediss://:pw@cache:6380' })).toBe('rediss://:pw@cache:6380');
    expect(redisUrlOf({ REDIS_URL: '' })).toBeNull();
    expect(redisUrlOf({})).toBeNull();
    for (const bad of ['cache:6379', 'http://cache:6379', 'redis://']) {
      expect(problemsOf({ REDIS_URL: bad })).toEqual([
        'REDIS_URL must be a redis:// or rediss:// URL',
      ]);
    }
  });

  it('takes LIVENESS_PORT as a port, and none means no liveness listener of its own', () => {
    const livenessPortOf = (raw: Record<string, string>) =>
      AppConfig.fromEnvironment(validateEnvironment(raw)).http.livenessPort;
    expect(livenessPortOf({ LIVENESS_PORT: '9000' })).toBe(9000);
    expect(livenessPortOf({ LIVENESS_PORT: '0' })).toBe(0);
    expect(livenessPortOf({ LIVENESS_PORT: '' })).toBeNull();
    expect(livenessPortOf({})).toBeNull();
    for (const bad of ['http', '65536', '-1', '90.5']) {
      expect(problemsOf({ LIVENESS_PORT: bad })).toEqual([
        expect.stringMatching(/^LIVENESS_PORT /),
      ]);
    }
  });

  it('does not echo secret values in its message', () => {
    const secret = 'too-short-secret';
    const error = (() => {
      try {
        return validateEnvironment({ AUTH_JWT_SECRET: secret });
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error).toBeInstanceOf(InvalidEnvironmentError);
    expect((error as Error).message).not.toContain(secret);
  });

  it('requires a database and an auth setting in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      'DATABASE_URL is required when NODE_ENV=production',
      'AUTH_JWT_SECRET or AUTH_JWKS_URL is required when NODE_ENV=production',
    ]);
    const withKeySet = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://app@db.example.com/tasks?sslmode=require',
      AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
    };
    // With a key set there is no shared secret to derive the cursors' key from.
    expect(problemsOf(withKeySet)).toEqual([
      'CURSOR_KEY is required when NODE_ENV=production and AUTH_JWKS_URL is set',
    ]);
    expect(() =>
      validateEnvironment({ ...withKeySet, CURSOR_KEY: 'a-cursor-key-of-at-least-32-characters' }),
    ).not.toThrow();
  });

  it('refuses the public development secret in production', () => {
    expect(
      problemsOf({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgresql://db.example.com/tasks',
        AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET,
      }),
    ).toEqual(['AUTH_JWT_SECRET must not be the public development secret in production']);
  });

  it('refuses both auth settings at once', () => {
    expect(
      problemsOf({
        AUTH_JWT_SECRET: 'x'.repeat(32),
        AUTH_JWKS_URL: 'https://idp.example.com/jwks',
      }),
    ).toEqual(['AUTH_JWT_SECRET and AUTH_JWKS_URL are exclusive: set one of them']);
  });
});

describe('AppConfig', () => {
  it('uses the development secret only in development and test without auth settings', () => {
    const dev = AppConfig.fromEnvironment(validateEnvironment({}));
    expect(dev.auth).toMatchObject({
      jwtSecret: DEVELOPMENT_JWT_SECRET,
      usesDevelopmentSecret: true,
    });

    const configured = AppConfig.fromEnvironment(
      validateEnvironment({ AUTH_JWT_SECRET: 's'.repeat(40) }),
    );
    expect(configured.auth).toMatchObject({
      jwtSecret: 's'.repeat(40),
      usesDevelopmentSecret: false,
    });
  });

  it('runs migrations at start-up by default only on the embedded database', () => {
    expect(AppConfig.fromEnvironment(validateEnvironment({})).database.runMigrations).toBe(true);
    const external = validateEnvironment({ DATABASE_URL: 'postgresql://127.0.0.1/tasks' });
    expect(AppConfig.fromEnvironment(external).database.runMigrations).toBe(false);
    const forced = validateEnvironment({
      DATABASE_URL: 'postgresql://127.0.0.1/tasks',
      DB_MIGRATIONS_RUN: 'true',
    });
    expect(AppConfig.fromEnvironment(forced).database.runMigrations).toBe(true);
  });

  it('defaults the direct URL to DATABASE_URL and splits CORS origins', () => {
    const config = AppConfig.fromEnvironment(
      validateEnvironment({
        DATABASE_URL: 'postgresql://pooled/tasks',
        CORS_ORIGINS: ' https://a.example , ,https://b.example',
      }),
    );
    expect(config.database.directUrl).toBe('postgresql://pooled/tasks');
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });
});

// One `.env` loader for the service, the migration CLI and the scripts.
describe('readEnvironment', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tasks-env-')), '.env');
  writeFileSync(file, 'PORT=4000\nLOG_LEVEL=debug\n');

  it('reads .env in development, and real variables win', () => {
    const env = readEnvironment({ LOG_LEVEL: 'warn' }, file);
    expect(env).toMatchObject({ PORT: '4000', LOG_LEVEL: 'warn' });
  });

  it('ignores .env in test and production, and leaves process.env alone', () => {
    expect(readEnvironment({ NODE_ENV: 'test' }, file).PORT).toBeUndefined();
    expect(readEnvironment({ NODE_ENV: 'production' }, file).PORT).toBeUndefined();
    expect(readEnvironment({}, `${file}.missing`)).toEqual({});
    const before = { ...process.env };
    readEnvironment(process.env, file);
    expect(process.env).toEqual(before);
  });
});

// @nestjs/config serves the settings validated once, and never reads or writes process.env.
describe('ConfigModule', () => {
  it('validates the environment once and serves the result as AppConfig and through ConfigService', async () => {
    const before = { ...process.env };
    validations.mockClear();
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot()],
    }).compile();
    try {
      expect(validations).toHaveBeenCalledTimes(1);
      const config = moduleRef.get(AppConfig);
      const typed = moduleRef.get<ConfigService<ConfigNamespaces, true>>(ConfigService);
      expect(typed.get('app', { infer: true })).toBe(config);
      expect(typed.get('app.http.port', { infer: true })).toBe(config.http.port);
      // process.env is no source of settings: what it holds is not served.
      expect(process.env.PATH).toBeDefined();
      expect(moduleRef.get(ConfigService).get('PATH')).toBeUndefined();
      expect(process.env).toEqual(before);
    } finally {
      await moduleRef.close();
    }
  });

  it('builds the application on the given AppConfig without validating again or touching process.env', async () => {
    const database = await createTestDatabase();
    const config = testConfig(database.url);
    const before = { ...process.env };
    validations.mockClear();
    const app = await createApp({ config });
    try {
      await app.init();
      expect(validations).not.toHaveBeenCalled();
      expect(app.get(AppConfig)).toBe(config);
      expect(app.get(ConfigService).get('app')).toBe(config);
      expect(process.env).toEqual(before);
    } finally {
      await app.close();
      await database.drop();
    }
  });
});
