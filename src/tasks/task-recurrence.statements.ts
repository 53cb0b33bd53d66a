import { defineStatement, sqlText } from '../database/compiled-statements';
import type { WriteFollowUp } from '../owned-resources/owned-resource';
import { MORE_OCCURRENCES, UPCOMING_REFILL_BELOW } from './recurrence';

/**
 * The next occurrence of a recurring task, created by the write that completes it (specification
 * "Recurring tasks"; design in docs/recurrence.md), in the same statement as that write: the
 * toggle, the update and the bulk update each end in `RETURNING …, CASE WHEN <it has an
 * occurrence to create> THEN task_next_occurrence(tasks, …) END AS "followUp"`.
 *
 * - The update gives the task its `next_id` (a new uuid) when it completes a task that has none
 *   and has an occurrence left; `task_next_occurrence` (a SQL function, migration
 *   1733700000000) creates the task of that id, due at the first of `upcoming`, which PostgreSQL
 *   only copies: the rule was expanded when the schedule was written.
 * - Exactly once: `ux_tasks_previous_id` lets one task have one successor, and the function's
 *   `ON CONFLICT DO NOTHING` makes a completion retried, or racing another (they queue on the
 *   row's lock), insert nothing. Uncompleting keeps `next_id`, so completing again creates nothing
 *   either; nor does completing a task whose successor was purged from the trash (its tombstone).
 * - A task that is not recurring has no `upcoming`: the `CASE` never calls the function, so its
 *   toggle is the plain update it was (an insert in a CTE cost 0.2 ms a toggle even with no row).
 * - `followUp` is the successor's schedule when its list runs short of an open rule's
 *   occurrences (the repository then computes more), else null.
 */
export const NEXT_OCCURRENCE: WriteFollowUp = {
  set: (after) => ({
    nextId: `CASE WHEN (${after('completed')}) AND NOT completed AND next_id IS NULL
      AND (${after('upcoming')})[1] < '${MORE_OCCURRENCES}' THEN gen_random_uuid() ELSE next_id END`,
  }),
  // The successor's list is this one's without its first: one shorter, with the same last.
  answered: `CASE WHEN completed AND next_id IS NOT NULL AND upcoming[1] < '${MORE_OCCURRENCES}'
      THEN task_next_occurrence(tasks,
             cardinality(upcoming) - 1 < ${UPCOMING_REFILL_BELOW}
             AND upcoming[cardinality(upcoming)] = '${MORE_OCCURRENCES}') END`,
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
