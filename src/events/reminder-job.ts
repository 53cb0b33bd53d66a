import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CompiledStatements } from '../database/compiled-statements';
import { jobFailure, PeriodicJob } from '../database/periodic-job';
import { ShutdownService } from '../health/shutdown.service';
import { CLAIM_DUE_REMINDERS } from './events.statements';

/** How often each process claims due reminders: a reminder is sent within this and a notification. */
export const REMINDER_POLL_MS = 1000;
/** Reminders per claim statement; a fuller batch is followed by another at once. */
export const REMINDER_BATCH_SIZE = 100;
/** Batches per run at most: a backlog is worked off over several runs. */
export const MAX_REMINDER_BATCHES = 10;

/**
 * Claims due reminders (specification §15): every replica runs the claim each second; the claim
 * statement gives each reminder to exactly one of them and announces it to all of them (on
 * `task_reminders`), and each sends it to the streams of its owner that it holds. No leader,
 * no lease: the row's `reminded_at` is the claim. A failure is logged and tried again next run.
 */
@Injectable()
export class ReminderJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Reminders');
  private readonly statements: CompiledStatements;
  private readonly job = new PeriodicJob(REMINDER_POLL_MS, () => this.run());

  constructor(
    @Inject(DataSource) dataSource: DataSource,
    private readonly shutdown: ShutdownService,
  ) {
    this.statements = new CompiledStatements(dataSource);
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.job.stop();
  }

  private async run(): Promise<number> {
    let claimed = 0;
    try {
      for (let batch = 0; batch < MAX_REMINDER_BATCHES; batch++) {
        // A process going away leaves the claims to the replicas that stay.
        if (this.shutdown.isShuttingDown) break;
        const rows = await this.statements.rows<{ id: string }, Record<string, never>>(
          CLAIM_DUE_REMINDERS,
          {},
          { limit: REMINDER_BATCH_SIZE },
        );
        claimed += rows.length;
        if (rows.length < REMINDER_BATCH_SIZE) break;
      }
    } catch (error) {
      this.logger.warn(jobFailure(error), 'claiming due reminders failed; retried next run');
    }
    if (claimed > 0) this.logger.debug({ claimed }, 'reminders claimed');
    return claimed;
  }
}
