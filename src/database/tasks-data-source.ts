import { Client } from 'pg';
import { DataSource, Migration } from 'typeorm';

/** Arbitrary but fixed: every runner of this service's migrations takes the same lock. */
export const MIGRATION_LOCK_KEY = 728_401_337;

/**
 * A DataSource whose migration commands hold a PostgreSQL advisory lock, so that several
 * runners (pods starting together, a Job and a pod) apply each migration exactly once: the
 * second runner waits, then finds nothing pending. The lock is held on a connection of its own,
 * outside the pool, so a pool of one connection cannot deadlock against it.
 */
export class TasksDataSource extends DataSource {
  override async runMigrations(
    options?: Parameters<DataSource['runMigrations']>[0],
  ): Promise<Migration[]> {
    return this.withMigrationLock(() => super.runMigrations(options));
  }

  override async undoLastMigration(
    options?: Parameters<DataSource['undoLastMigration']>[0],
  ): Promise<void> {
    return this.withMigrationLock(() => super.undoLastMigration(options));
  }

  private async withMigrationLock<T>(work: () => Promise<T>): Promise<T> {
    const options = this.options as { url?: string; extra?: { connectionTimeoutMillis?: number } };
    const lock = new Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.extra?.connectionTimeoutMillis,
      application_name: 'tasks-service-migrations',
    });
    await lock.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      return await work();
    } finally {
      // Closing the session releases the lock even if the unlock itself fails.
      await lock
        .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
        .catch(() => undefined);
      await lock.end();
    }
  }
}
