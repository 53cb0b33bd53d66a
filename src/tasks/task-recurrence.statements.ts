import { defineStatement, sqlText } from '../database/compiled-statements';
import type { WriteFollowUp } from '../owned-resources/owned-resource';
import { MORE_OCCURRENCES, UPCOMING_REFILL_BELOW } from './recurrence';

/**
 * The next occurrence of a recurring task, created by the write that completes it (specification
 * "Recurring tasks"; design in docs/recurrence.md), in the same statement as that write: the
 * toggle, the update and the bulk update each become `WITH written AS (UPDATE … RETURNING …)`
 * followed by this insert.
 *
 * - The update gives the task its `next_id` (a new uuid) when it completes a task that has none
 *   and has an occurrence left; the insert creates the task of that id, due at the first of
 *   `upcoming`, which PostgreSQL only copies: the rule was expanded when the schedule was written.
 * - Exactly once: `ux_tasks_previous_id` lets one task have one successor, and `ON CONFLICT DO
 *   NOTHING` makes a completion retried, or racing another (they queue on the row's lock), insert
 *   nothing. Uncompleting keeps `next_id`, so completing again creates nothing either; nor does
 *   completing a task whose successor was purged from the trash (its tombstone remains).
 * - A task that is not recurring has no `upcoming`: its `next_id` stays null and the insert reads
 *   no row, so its toggle does the work it did before (docs/recurrence.md shows both plans).
 */
export const NEXT_OCCURRENCE: WriteFollowUp = {
  set: (after) => ({
    nextId: `CASE WHEN (${after('completed')}) AND NOT completed AND next_id IS NULL
      AND (${after('upcoming')})[1] < '${MORE_OCCURRENCES}' THEN gen_random_uuid() ELSE next_id END`,
  }),
  reads: ['upcoming'],
  statement: `INSERT INTO tasks (id, user_id, previous_id, title, description, list_id, priority, tags,
      due_date, due_time, time_zone, recurrence, recurrence_count, upcoming, remind_at)
    SELECT next_id, user_id, id, title, description, list_id, priority, tags,
           upcoming[1]::date, CASE WHEN due_time IS NULL THEN NULL ELSE upcoming[1]::time END,
           time_zone, recurrence, recurrence_count - 1, upcoming[2:],
           -- The reminder at the same offset from the new due time (timed), or as many days later.
           CASE WHEN remind_at IS NULL THEN NULL
                WHEN due_at IS NOT NULL
                  THEN task_due_at(upcoming[1]::date, upcoming[1]::time, time_zone)
                       + (remind_at - due_at)
                ELSE remind_at + (upcoming[1]::date - due_date) * interval '1 day' END
      FROM written
     WHERE completed AND next_id IS NOT NULL AND upcoming[1] < '${MORE_OCCURRENCES}'
       AND NOT EXISTS (SELECT 1 FROM tombstones
                        WHERE tombstones.user_id = written.user_id
                          AND tombstones.resource = 'tasks' AND tombstones.id = written.next_id)
    ON CONFLICT DO NOTHING
    RETURNING id, previous_id, due_date, due_time, time_zone, recurrence, recurrence_count,
              upcoming`,
  // The successor's schedule, when its list runs short of an open rule's occurrences.
  answered: `(SELECT to_jsonb(followed) FROM followed
     WHERE followed.previous_id = written.id
       AND cardinality(followed.upcoming) < ${UPCOMING_REFILL_BELOW}
       AND followed.upcoming[cardinality(followed.upcoming)] = '${MORE_OCCURRENCES}')`,
};

/**
 * Replaces the `upcoming` of the owner's live tasks named in `refills` (a JSON array of `{id,
 * upcoming, previous}`) with a longer list, each only while it is still the list it was computed
 * from (a refill that lost a race changes nothing). `version` stays: nothing on the wire changes.
 */
export const REFILL_UPCOMING = defineStatement({
  name: 'tasks.refillUpcoming',
  shapes: {},
  build: (_dataSource, _shape, p) =>
    sqlText(
      `UPDATE tasks
          SET upcoming = ARRAY(SELECT jsonb_array_elements_text(refill.upcoming)::timestamp)
         FROM jsonb_to_recordset($2::jsonb) AS refill(id uuid, upcoming jsonb, previous jsonb)
        WHERE tasks.user_id = $1 AND tasks.deleted_at IS NULL AND tasks.id = refill.id
          AND to_jsonb(tasks.upcoming) = refill.previous
      RETURNING tasks.id AS "id"`,
      [p('userId'), p('refills')],
    ),
});
