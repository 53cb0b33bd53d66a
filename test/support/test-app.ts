import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.factory';
import { takeOpenApiViolations, validateResponsesAgainstOpenApi } from './openapi-validation';
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

/**
 * Builds the real application (same factory as `main.ts`) on a database of its own, with the
 * environment the test passes. The process environment is restored once the app is built.
 */
export async function startTestApp(
  env: Record<string, string | undefined> = {},
  database?: TestDatabase,
): Promise<TestApp> {
  const db = database ?? (await createTestDatabase());
  const saved = { ...process.env };
  Object.assign(process.env, {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    DB_MIGRATIONS_RUN: 'false',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_STARTUP_RETRY_MS: '0',
  });
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  let app: NestFastifyApplication;
  try {
    app = await createApp();
    validateResponsesAgainstOpenApi(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } finally {
    process.env = saved;
  }
  return {
    app,
    database: db,
    close: async () => {
      await app.close();
      if (!database) await db.drop();
    },
  };
}
