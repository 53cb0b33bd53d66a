import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { buildDataSourceOptions } from '../../src/database/database-options';
import { TasksDataSource } from '../../src/database/tasks-data-source';
import { adminQuery, TEST_ADMIN_URL_VAR, TEST_TEMPLATE_VAR, withDatabase } from './test-database';

declare global {
  var __EMBEDDED_POSTGRES__: ChildProcess | undefined;
}

const ROOT = resolve(__dirname, '../..');
/** Each run has a cluster of its own, so that two runs at once never stop each other's server. */
export const testClusterDir = (pid: number): string => resolve(ROOT, `.data/test-run-${pid}`);

/** Removes clusters left behind by runs that were killed before their teardown. */
async function removeStaleClusters(): Promise<void> {
  const entries = await readdir(resolve(ROOT, '.data')).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(/^test-run-(\d+)$/.exec(entry)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      await rm(testClusterDir(pid), { recursive: true, force: true });
    }
  }
}

/** Starts test/support/embedded-server.ts and resolves with the URL it prints. */
async function startEmbeddedServer(): Promise<string> {
  await removeStaleClusters();
  const child = spawn(
    process.execPath,
    [
      '-r',
      resolve(ROOT, 'node_modules/ts-node/register/transpile-only'),
      resolve(__dirname, 'embedded-server.ts'),
      testClusterDir(process.pid),
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
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
