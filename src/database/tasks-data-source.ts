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

/** How often a runner asks for the lock again while another runner holds it. */
const MIGRATION_LOCK_POLL_MS = 250;

/** SQLSTATE 55P03, lock not available: carried by the error of a wait that ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

/** Another runner held the migration lock for longer than the wait allows. */
export class MigrationLockTimeoutError extends DataLayerError {}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

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
 *
 * A runner that finds the lock taken does not wait inside a transaction: that would hold one of
 * the pooler's server connections for as long as the holder runs, and with as few server
 * connections as runners the holder's own migrations would find none free. It tries again every
 * MIGRATION_LOCK_POLL_MS with no transaction open in between, so the pooler hands the server
 * connection to others meanwhile. The holder needs two server connections: the lock's and its
 * migrations'.
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
      await this.takeLock(lock);
      const result = await work();
      await lock.query('COMMIT');
      return result;
    } finally {
      // Ending the connection ends the transaction, and so releases the lock, whatever happened.
      await lock.end().catch(() => undefined);
    }
  }

  /** Leaves `lock` in a transaction that holds the lock, or throws once the wait is over. */
  private async takeLock(lock: Client): Promise<void> {
    const deadline = Date.now() + this.migrationLockWaitMs;
    for (;;) {
      // One round trip: the transaction that will hold the lock, and the attempt.
      const [, attempt] = (await lock.query(
        `BEGIN; SELECT pg_try_advisory_xact_lock(${MIGRATION_LOCK_KEY}) AS locked`,
      )) as unknown as [unknown, { rows: { locked: boolean }[] }];
      if (attempt.rows[0].locked) return;
      await lock.query('ROLLBACK');
      if (Date.now() >= deadline) break;
      await sleep(Math.min(MIGRATION_LOCK_POLL_MS, Math.max(0, deadline - Date.now())));
    }
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
