import { MigrationInterface, QueryRunner } from 'typeorm';

/** A reminder's claim: the only update that sets `reminded_at` (from NULL to an instant). */
const NOT_A_CLAIM = 'OLD.reminded_at IS NOT NULL OR NEW.reminded_at IS NULL';

/**
 * Reminders and live events (specification §15; design in docs/events.md).
 *
 * - `remind_at`: when to remind; `reminded_at`: when a replica claimed the reminder (NULL while
 *   it is armed). Changing `remind_at` re-arms it (trigger `arm_tasks_reminder`).
 * - `ix_tasks_reminders_due`: the armed reminders of live, open tasks only, so the claim job's
 *   scan costs what is due, not the table.
 * - A claim is not a change of the task: the `updated_at` and `change_xid` triggers skip it, so
 *   the changes feed and `updated_at` stay as the owner left them.
 * - `notify_tasks_change`: every committed write of a task sends its owner's id on channel
 *   `task_changes`; PostgreSQL delivers identical payloads of one transaction once, so a bulk
 *   change of 500 tasks is one notification.
 * - `stream_tickets`: single-use tickets for browsers' EventSource, kept as SHA-256 hashes.
 */
export class AddRemindersAndLiveEvents1733500000000 implements MigrationInterface {
  name = 'AddRemindersAndLiveEvents1733500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE tasks
        ADD COLUMN remind_at timestamptz(3) NULL,
        ADD COLUMN reminded_at timestamptz(3) NULL`);
    await queryRunner.query(`
      CREATE INDEX ix_tasks_reminders_due ON tasks (remind_at)
        WHERE remind_at IS NOT NULL AND reminded_at IS NULL
          AND deleted_at IS NULL AND NOT completed`);
    await queryRunner.query(`
      CREATE FUNCTION arm_task_reminder() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.reminded_at := NULL;
        RETURN NEW;
      END
      $$`);
    // Named to fire first: BEFORE triggers run in name order, and the next two read reminded_at.
    await queryRunner.query(`
      CREATE TRIGGER arm_tasks_reminder
        BEFORE UPDATE OF remind_at ON tasks
        FOR EACH ROW WHEN (OLD.remind_at IS DISTINCT FROM NEW.remind_at)
        EXECUTE FUNCTION arm_task_reminder()`);

    await queryRunner.query(`DROP TRIGGER update_tasks_updated_at ON tasks`);
    await queryRunner.query(`
      CREATE TRIGGER update_tasks_updated_at
        BEFORE UPDATE ON tasks
        FOR EACH ROW WHEN (${NOT_A_CLAIM})
        EXECUTE FUNCTION set_tasks_updated_at()`);
    // A WHEN clause of an INSERT trigger cannot read OLD: inserts and updates get a trigger each.
    await queryRunner.query(`DROP TRIGGER stamp_tasks_change_xid ON tasks`);
    await queryRunner.query(`
      CREATE TRIGGER stamp_tasks_change_xid
        BEFORE INSERT ON tasks
        FOR EACH ROW EXECUTE FUNCTION stamp_change_xid()`);
    await queryRunner.query(`
      CREATE TRIGGER stamp_tasks_change_xid_on_update
        BEFORE UPDATE ON tasks
        FOR EACH ROW WHEN (${NOT_A_CLAIM})
        EXECUTE FUNCTION stamp_change_xid()`);

    await queryRunner.query(`
      CREATE FUNCTION notify_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('task_changes', OLD.user_id);
        ELSIF TG_OP = 'INSERT' OR OLD.reminded_at IS NOT NULL OR NEW.reminded_at IS NULL THEN
          PERFORM pg_notify('task_changes', NEW.user_id);
        END IF;
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER notify_tasks_change
        AFTER INSERT OR UPDATE OR DELETE ON tasks
        FOR EACH ROW EXECUTE FUNCTION notify_task_change()`);

    await queryRunner.query(`
      CREATE TABLE stream_tickets (
        user_id varchar(255) NOT NULL,
        ticket_hash char(64) NOT NULL,
        expires_at timestamptz(3) NOT NULL,
        CONSTRAINT pk_stream_tickets PRIMARY KEY (user_id, ticket_hash)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE stream_tickets`);
    await queryRunner.query(`DROP TRIGGER notify_tasks_change ON tasks`);
    await queryRunner.query(`DROP FUNCTION notify_task_change()`);
    await queryRunner.query(`DROP TRIGGER stamp_tasks_change_xid_on_update ON tasks`);
    await queryRunner.query(`DROP TRIGGER stamp_tasks_change_xid ON tasks`);
    await queryRunner.query(`
      CREATE TRIGGER stamp_tasks_change_xid
        BEFORE INSERT OR UPDATE ON tasks
        FOR EACH ROW EXECUTE FUNCTION stamp_change_xid()`);
    await queryRunner.query(`DROP TRIGGER update_tasks_updated_at ON tasks`);
    await queryRunner.query(`
      CREATE TRIGGER update_tasks_updated_at
        BEFORE UPDATE ON tasks
        FOR EACH ROW EXECUTE FUNCTION set_tasks_updated_at()`);
    await queryRunner.query(`DROP TRIGGER arm_tasks_reminder ON tasks`);
    await queryRunner.query(`DROP FUNCTION arm_task_reminder()`);
    await queryRunner.query(`DROP INDEX ix_tasks_reminders_due`);
    await queryRunner.query(`ALTER TABLE tasks DROP COLUMN remind_at, DROP COLUMN reminded_at`);
  }
}
