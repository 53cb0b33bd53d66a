import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Recurring tasks (docs/specification.md, "Recurring tasks"; design in docs/recurrence.md).
 *
 * - `recurrence`: the RFC 5545 rule without its COUNT; `recurrence_count`: the occurrences left,
 *   this one included (the API answers them together as `…;COUNT=n`).
 * - `upcoming`: the next occurrences' wall times in the task's zone, computed by the service
 *   whenever the schedule is written, so that completing a task only copies the first of them;
 *   `'infinity'` last when the rule goes on past the list. Set on every recurring task.
 * - `next_id`: the occurrence created when this task was completed; `previous_id`: the task whose
 *   completion created this one, unique per owner, so a completion retried or run concurrently
 *   inserts nothing the second time (`ON CONFLICT DO NOTHING`).
 * Constant defaults: adding the columns rewrites nothing.
 */
export class AddRecurrence1733600000000 implements MigrationInterface {
  name = 'AddRecurrence1733600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE tasks
        ADD COLUMN recurrence varchar(500) NULL,
        ADD COLUMN recurrence_count integer NULL,
        ADD COLUMN upcoming timestamp[] NULL,
        ADD COLUMN next_id uuid NULL,
        ADD COLUMN previous_id uuid NULL,
        ADD CONSTRAINT ck_tasks_recurrence_needs_due_date
          CHECK (recurrence IS NULL OR due_date IS NOT NULL),
        ADD CONSTRAINT ck_tasks_recurrence_schedule
          CHECK ((recurrence IS NULL) = (upcoming IS NULL)),
        ADD CONSTRAINT ck_tasks_recurrence_count
          CHECK (recurrence_count IS NULL OR (recurrence IS NOT NULL AND recurrence_count >= 1))`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX ux_tasks_previous_id ON tasks (user_id, previous_id)
        WHERE previous_id IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX ux_tasks_previous_id`);
    await queryRunner.query(`
      ALTER TABLE tasks
        DROP COLUMN previous_id, DROP COLUMN next_id, DROP COLUMN upcoming,
        DROP COLUMN recurrence_count, DROP COLUMN recurrence`);
  }
}
