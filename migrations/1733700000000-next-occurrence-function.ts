import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Completing a recurring task creates its next occurrence in the completing statement (design in
 * docs/recurrence.md). Before, that statement carried the insert as a CTE, and PostgreSQL set up
 * the insert (the table's 15 indexes, for `ON CONFLICT`) on every toggle and update, recurring or
 * not: 0.2 ms a toggle. Now the update's `RETURNING` calls this function, and only for a row that
 * has an occurrence to create, so a task that does not recur pays nothing.
 *
 * `task_next_occurrence(task, answer)` inserts the successor of `task` (the row as just written),
 * due at the first of its `upcoming`, unless one exists (`ON CONFLICT DO NOTHING`: the primary key
 * and `ux_tasks_previous_id`) or was purged from the trash (its tombstone). It answers the
 * successor's schedule as JSON when it inserted one and `answer` is true, else null. VOLATILE: it
 * writes, and must run once per row.
 */
export class NextOccurrenceFunction1733700000000 implements MigrationInterface {
  name = 'NextOccurrenceFunction1733700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION task_next_occurrence(task tasks, answer boolean) RETURNS jsonb
      LANGUAGE sql VOLATILE AS $$
        INSERT INTO tasks (id, user_id, previous_id, title, description, list_id, priority, tags,
            due_date, due_time, time_zone, recurrence, recurrence_count, upcoming, remind_at)
        SELECT task.next_id, task.user_id, task.id, task.title, task.description, task.list_id,
               task.priority, task.tags, task.upcoming[1]::date,
               CASE WHEN task.due_time IS NULL THEN NULL ELSE task.upcoming[1]::time END,
               task.time_zone, task.recurrence, task.recurrence_count - 1, task.upcoming[2:],
               -- The reminder at the same offset from the new due time (timed), or as many days later.
               CASE WHEN task.remind_at IS NULL THEN NULL
                    WHEN task.due_at IS NOT NULL
                      THEN task_due_at(task.upcoming[1]::date, task.upcoming[1]::time, task.time_zone)
                           + (task.remind_at - task.due_at)
                    ELSE task.remind_at + (task.upcoming[1]::date - task.due_date) * interval '1 day'
               END
         WHERE task.completed AND task.next_id IS NOT NULL AND task.upcoming[1] < 'infinity'
           AND NOT EXISTS (SELECT 1 FROM tombstones
                            WHERE tombstones.user_id = task.user_id
                              AND tombstones.resource = 'tasks' AND tombstones.id = task.next_id)
        ON CONFLICT DO NOTHING
        RETURNING CASE WHEN answer THEN jsonb_build_object(
                    'id', id, 'previous_id', previous_id, 'due_date', due_date, 'due_time', due_time,
                    'time_zone', time_zone, 'recurrence', recurrence,
                    'recurrence_count', recurrence_count, 'upcoming', upcoming) END
      $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION task_next_occurrence(tasks, boolean)`);
  }
}
