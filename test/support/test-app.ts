import type { InjectionToken, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type ApplicationBuilder, createApp } from '../../src/app.factory';
import { AppConfig } from '../../src/config/app-config';
import { validateEnvironment } from '../../src/config/environment';
import { takeOpenApiViolations, validateResponsesAgainstOpenApi } from './openapi-validation';
import { loadSlack } from './machine-load';
import { createTestDatabase, TestDatabase } from './test-database';

// Every response an API test receives is checked against the OpenAPI document: a test that
// received an undocumented status, body or header fails, whatever it asserted itself.
afterEach(() => {
  const violations = takeOpenApiViolations();
  if (violations.length > 0) {
    throw new Error(
      `Responses that the OpenAPI document does not describe:\n${violations.join('\n')}`,
    );
  }
});

export const TEST_JWT_SECRET = 'test-only-secret-with-at-least-32-characters';

export interface TestApp {
  app: NestFastifyApplication;
  database: TestDatabase;
  close(): Promise<void>;
}

/** The configuration of a test app on `databaseUrl`, with the variables of `env` over it. */
export function testConfig(
  databaseUrl: string,
  env: Record<string, string | undefined> = {},
): AppConfig {
  const variables: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DB_MIGRATIONS_RUN: 'false',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_STARTUP_RETRY_MS: '0',
    // The default 5 s, stretched by the machine's load: waiting for a pooled connection is what
    // a busy machine slows first, and a test that means a shorter bound sets its own.
    DATABASE_CONNECT_TIMEOUT_MS: String(loadSlack(5000)),
    ...env,
  };
  return AppConfig.fromEnvironment(validateEnvironment(variables));
}

export interface TestAppOptions {
  /** An existing database (not dropped on close); else a fresh copy of the template. */
  database?: TestDatabase;
  /** Modules of the test's own, beside the application's. */
  imports?: ModuleMetadata['imports'];
  /** Providers replaced by the given values (through `@nestjs/testing`). */
  overrides?: [InjectionToken, unknown][];
}

/** Compiles the application's module with @nestjs/testing, replacing the given providers. */
const withOverrides =
  (overrides: [InjectionToken, unknown][]): ApplicationBuilder =>
  async (module, adapter, options) => {
    let builder = Test.createTestingModule({ imports: [module] });
    for (const [token, value] of overrides)
      builder = builder.overrideProvider(token).useValue(value);
    return (await builder.compile()).createNestApplication(adapter, options);
  };

/**
 * Builds the real application (same factory as `main.ts`) on a database of its own, configured
 * by the variables of `env` over the test defaults; `process.env` is never touched.
 */
export async function startTestApp(
  env: Record<string, string | undefined> = {},
  databaseOrOptions?: TestDatabase | TestAppOptions,
): Promise<TestApp> {
  const options: TestAppOptions =
    databaseOrOptions && 'url' in databaseOrOptions
      ? { database: databaseOrOptions }
      : (databaseOrOptions ?? {});
  const db = options.database ?? (await createTestDatabase());
  const app = await createApp({
    config: testConfig(db.url, env),
    imports: options.imports,
    build: options.overrides ? withOverrides(options.overrides) : undefined,
  });
  validateResponsesAgainstOpenApi(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    database: db,
    close: async () => {
      await app.close();
      if (!options.database) await db.drop();
    },
  };
}
