import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Per-file databases: the global setup migrates one template database; each test file gets its
 * own copy (`CREATE DATABASE … TEMPLATE …`, milliseconds), so files run in parallel and never
 * see each other's rows.
 */
export const TEST_ADMIN_URL_VAR = 'TASKS_TEST_ADMIN_URL';
export const TEST_TEMPLATE_VAR = 'TASKS_TEST_TEMPLATE';

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env[TEST_ADMIN_URL_VAR];
  const template = process.env[TEST_TEMPLATE_VAR];
  if (!adminUrl || !template) throw new Error('the jest global setup did not run');
  const name = `tasks_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(adminUrl, `CREATE DATABASE ${name} TEMPLATE ${template}`);
      break;
    } catch (error) {
      // 55006: the template is briefly in use by another file's copy; try again.
      if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
      await new Promise((done) => setTimeout(done, 50 * attempt));
    }
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
