import { Pool } from 'pg';
import { AddSyncTrashAndIdempotency1733200000000 } from '../../migrations/1733200000000-add-sync-trash-and-idempotency';
import { openDataSource } from './test-data-source';
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

/** A test database with the sync, trash and idempotency migration applied on top. */
export async function createSyncDatabase(): Promise<SyncDatabase> {
  const database = await createTestDatabase();
  const dataSource = await openDataSource(database.url);
  const queryRunner = dataSource.createQueryRunner();
  try {
    await new AddSyncTrashAndIdempotency1733200000000().up(queryRunner);
  } finally {
    await queryRunner.release();
    await dataSource.destroy();
  }
  const pool = new Pool({ connectionString: database.url, max: 24 });
  return {
    database,
    pool,
    close: async () => {
      await pool.end();
      await database.drop();
    },
  };
}
