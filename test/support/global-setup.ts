import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { buildDataSourceOptions } from '../../src/database/database-options';
import { TasksDataSource } from '../../src/database/tasks-data-source';
import { adminQuery, TEST_ADMIN_URL_VAR, TEST_TEMPLATE_VAR, withDatabase } from './test-database';

declare global {
  var __EMBEDDED_POSTGRES__: ChildProcess | undefined;
}

/** Starts test/support/embedded-server.ts and resolves with the URL it prints. */
function startEmbeddedServer(): Promise<string> {
  const root = resolve(__dirname, '../..');
  const child = spawn(
    process.execPath,
    [
      '-r',
      resolve(root, 'node_modules/ts-node/register/transpile-only'),
      resolve(__dirname, 'embedded-server.ts'),
      resolve(root, '.data/test'),
    ],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  globalThis.__EMBEDDED_POSTGRES__ = child;
  return new Promise((resolveUrl, reject) => {
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolveUrl((JSON.parse(line) as { url: string }).url),
    );
  });
}

/**
 * Finds the test PostgreSQL (TEST_DATABASE_URL, else an embedded server under .data/test) and
 * builds a freshly migrated template database that every test file copies.
 */
export default async function globalSetup(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? (await startEmbeddedServer());
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
