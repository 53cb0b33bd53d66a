import { rm } from 'node:fs/promises';
import { testClusterDir } from './global-setup';
import { adminQuery, TEST_ADMIN_URL_VAR, TEST_TEMPLATE_VAR } from './test-database';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env[TEST_ADMIN_URL_VAR];
  const template = process.env[TEST_TEMPLATE_VAR];
  if (adminUrl && template) {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  }
  const server = globalThis.__EMBEDDED_POSTGRES__;
  if (server && server.exitCode === null) {
    const exited = new Promise((done) => server.once('exit', done));
    server.stdin?.end();
    await exited;
    await rm(testClusterDir(process.pid), { recursive: true, force: true });
  }
}
