import 'reflect-metadata';
import { buildDataSourceOptions } from '../../src/database/database-options';
import { EmbeddedPostgresServer } from '../../src/database/embedded-postgres';
import { TasksDataSource } from '../../src/database/tasks-data-source';
import { adminQuery, TEST_ADMIN_URL_VAR, TEST_TEMPLATE_VAR, withDatabase } from './test-database';

declare global {
  var __EMBEDDED_POSTGRES__: EmbeddedPostgresServer | undefined;
}

/**
 * Finds the test PostgreSQL (TEST_DATABASE_URL, else an embedded server under .data/test) and
 * builds a freshly migrated template database that every test file copies.
 */
export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const server = await EmbeddedPostgresServer.start({
      dataDir: '.data/test',
      database: 'postgres',
      log: () => undefined,
      durable: false,
    });
    globalThis.__EMBEDDED_POSTGRES__ = server;
    adminUrl = server.url;
  }
  const template = `tasks_template_${process.pid}`;
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  await adminQuery(adminUrl, `CREATE DATABASE ${template}`);
  const dataSource = new TasksDataSource(
    buildDataSourceOptions({
      url: withDatabase(adminUrl, template),
      poolMax: 2,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 30000,
    }),
  );
  await dataSource.initialize();
  await dataSource.runMigrations();
  await dataSource.destroy();

  process.env[TEST_ADMIN_URL_VAR] = adminUrl;
  process.env[TEST_TEMPLATE_VAR] = template;
}
