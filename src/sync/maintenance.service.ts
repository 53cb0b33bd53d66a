import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { jobFailure, PeriodicJob } from '../database/periodic-job';
import { poolOf } from '../database/pg-pool';
import { PURGE_EXPIRED_KEYS, PURGE_TOMBSTONES, purgeTrashStatement } from './sync.statements';

/** How often each process runs the purges. */
export const MAINTENANCE_INTERVAL_MS = 60_000;
/** Rows per statement: a short transaction and short row locks, whatever the backlog. */
export const PURGE_BATCH_SIZE = 500;
/** Batches per purge per run: a backlog is worked off over several runs, never in one burst. */
export const MAX_BATCHES_PER_RUN = 20;

/** What one run purged; null: that purge failed (logged) and is tried again next run. */
export interface MaintenanceReport {
  trash: number | null;
  tombstones: number | null;
  idempotencyKeys: number | null;
}

interface Purge {
  name: keyof MaintenanceReport;
  /** Runs one batch; answers how many rows it purged. */
  batch(pool: NonNullable<ReturnType<typeof poolOf>>): Promise<number>;
}

/**
 * The purge jobs of specification §9–§11 (docs/sync.md): trashed tasks older than
 * TRASH_RETENTION_DAYS, tombstones as old (which expires older sync tokens), and expired
 * idempotency keys. Every replica runs them on its own timer: each batch takes its rows with
 * `FOR UPDATE SKIP LOCKED`, so replicas running at once purge disjoint rows and none is purged
 * twice, with no leader election. A failure is logged and retried next run; it never reaches a
 * request or stops the process.
 */
@Injectable()
export class MaintenanceService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Maintenance');
  private readonly job = new PeriodicJob(MAINTENANCE_INTERVAL_MS, () => this.run());
  private readonly purges: Purge[];

  constructor(
    config: AppConfig,
    @Inject(DataSource) private readonly dataSource: DataSource,
  ) {
    const days = config.retention.trashRetentionDays;
    const count = async (
      pool: NonNullable<ReturnType<typeof poolOf>>,
      text: string,
      values: unknown[],
    ) => (await pool.query(text, values)).rowCount ?? 0;
    const trash = purgeTrashStatement('tasks');
    this.purges = [
      { name: 'trash', batch: (pool) => count(pool, trash, [days, PURGE_BATCH_SIZE]) },
      {
        name: 'tombstones',
        batch: async (pool) =>
          (await pool.query<{ purged: number }>(PURGE_TOMBSTONES, [days, PURGE_BATCH_SIZE])).rows[0]
            .purged,
      },
      {
        name: 'idempotencyKeys',
        batch: (pool) => count(pool, PURGE_EXPIRED_KEYS, [PURGE_BATCH_SIZE]),
      },
    ];
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  /** Stops the timer and waits for a run in progress, before the pool closes. */
  onModuleDestroy(): Promise<void> {
    return this.job.stop();
  }

  /** One run of every purge; a run already in progress is joined, never doubled. */
  runOnce(): Promise<MaintenanceReport> {
    return this.job.runOnce();
  }

  private async run(): Promise<MaintenanceReport> {
    const report: MaintenanceReport = { trash: null, tombstones: null, idempotencyKeys: null };
    for (const purge of this.purges) {
      try {
        report[purge.name] = await this.drain(purge);
      } catch (error) {
        this.logger.warn(
          { ...jobFailure(error), purge: purge.name },
          'purge failed; retried next run',
        );
      }
    }
    if (Object.values(report).some((purged) => purged)) this.logger.log({ purged: report });
    return report;
  }

  /** Batches until one comes back short (nothing left), at most MAX_BATCHES_PER_RUN. */
  private async drain(purge: Purge): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
      const pool = poolOf(this.dataSource);
      if (!pool) break;
      const purged = await purge.batch(pool);
      total += purged;
      if (purged < PURGE_BATCH_SIZE) break;
    }
    return total;
  }
}
