import { Client } from 'pg';
import { DataSource, Migration } from 'typeorm';
import { DataLayerError } from './data-layer.errors';

/** Arbitrary but fixed: every runner of this service's migrations takes the same lock. */
export const MIGRATION_LOCK_KEY = 728_401_337;

/**
 * How long a runner waits for another to finish before it gives up: longer than any migration of
 * this service takes, short enough that a lock left behind is an error and not a hang.
 */
export const MIGRATION_LOCK_WAIT_MS = 60_000;

/** SQLSTATE 55P03: lock_timeout passed. */
const LOCK_NOT_AVAILABLE = '55P03';

/** Another runner held the migration lock for longer than the wait allows. */
export class MigrationLockTimeoutError extends DataLayerError {}

/**
 * A DataSource whose migration commands hold a PostgreSQL advisory lock, so that several
 * runners (pods starting together, a Job and a pod) apply each migration exactly once: the
 * second runner waits, then finds nothing pending. The lock is held on a connection of its own,
 * outside the pool, so a pool of one connection cannot deadlock against it.
 *
 * It is a transaction-level lock in a transaction kept open while the migrations run: a
 * transaction-mode pooler (PgBouncer, Neon's `-pooler` endpoint) keeps the client on one server
 * connection for exactly that long, so the lock excludes other runners through a pooler too, and
 * it cannot outlive its runner (a session lock taken through such a pooler stays on a server
 * connection that the pooler hands to someone else, and is never released).
 */
export class TasksDataSource extends DataSource {
  /** How long to wait for the lock; tests shorten it. */
  migrationLockWaitMs = MIGRATION_LOCK_WAIT_MS;

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
    lock.on('error', () => undefined);
    await lock.connect();
    try {
      await lock.query('BEGIN');
      // The wait is bounded by lock_timeout alone, whatever statement_timeout the role has.
      await lock.query(
        `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', '0', true)`,
        [`${this.migrationLockWaitMs}ms`],
      );
      await this.takeLock(lock);
      const result = await work();
      await lock.query('COMMIT');
      return result;
    } finally {
      // Ending the connection ends the transaction, and so releases the lock, whatever happened.
      await lock.end().catch(() => undefined);
    }
  }

  private async takeLock(lock: Client): Promise<void> {
    try {
      await lock.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      await lock.query('ROLLBACK');
      const { rows } = await lock.query<{ pid: number; application: string; state: string }>(
        `SELECT a.pid, a.application_name AS application, a.state
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = $1 AND l.granted`,
        [MIGRATION_LOCK_KEY],
      );
      const holder = rows[0];
      throw new MigrationLockTimeoutError(
        `Another session has held the migration lock for over ${this.migrationLockWaitMs} ms` +
          (holder
            ? ` (pid ${holder.pid}, application "${holder.application}", ${holder.state}): if no ` +
              `migration is running, end it with SELECT pg_terminate_backend(${holder.pid});`
            : ''),
        LOCK_NOT_AVAILABLE,
      );
    }
  }
}
