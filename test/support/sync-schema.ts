import { Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from './test-database';

/** The columns a task read returns, in the row shape of the tasks repository. */
export const TASK_COLUMNS = [
  'id',
  'user_id',
  'title',
  'description',
  'completed',
  'version',
  'created_at',
  'updated_at',
] as const;

export interface SyncDatabase {
  database: TestDatabase;
  /** Raw node-postgres connections: the statements under test run exactly as written. */
  pool: Pool;
  close(): Promise<void>;
}

/** A test database (every migration applied), with raw connections for the statements. */
export async function createSyncDatabase(): Promise<SyncDatabase> {
  const database = await createTestDatabase();
  const pool = new Pool({ connectionString: database.url, max: 24 });
  // node-postgres re-emits an idle connection's error on the pool, which throws without a
  // listener. A connection ended by the server while idle is simply replaced; a query on a
  // broken one still fails its test.
  pool.on('error', () => undefined);
  return {
    database,
    pool,
    close: async () => {
      await pool.end();
      await database.drop();
    },
  };
}
