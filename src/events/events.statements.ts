import { jobStatement } from '../database/periodic-job';
/**
 * The SQL of live events (specification §15, docs/events.md): stream tickets, the feed position a
 * new stream starts from, and the reminder claim. Each is one statement.
 */

import { defineStatement, sqlText } from '../database/compiled-statements';
import { isoTimestamp } from '../database/iso-timestamp';

/** Where a stream without `Last-Event-ID` starts: no transaction below it is still running. */
const SNAPSHOT_XMIN = 'pg_snapshot_xmin(pg_current_snapshot())::text';

/**
 * Stores a ticket's hash for 60 s, unless the caller already holds `maxLive` live tickets (no
 * row then). The caller's expired tickets are deleted on the way, so none piles up.
 */
export const ISSUE_TICKET = defineStatement({
  name: 'stream_tickets.issue',
  shapes: {},
  build: (_dataSource, _shape, p) =>
    sqlText(
      `
    WITH expired AS (
      DELETE FROM stream_tickets WHERE user_id = $1 AND expires_at <= now()
    ),
    live AS (
      SELECT count(*) AS held FROM stream_tickets WHERE user_id = $1 AND expires_at > now()
    )
    INSERT INTO stream_tickets (user_id, ticket_hash, expires_at)
    SELECT $1, $2, now() + make_interval(secs => $3::int)
      FROM live
     WHERE live.held < $4::int
    RETURNING ${isoTimestamp('expires_at')} AS expires_at`,
      [p('userId'), p('ticketHash'), p('ttlSeconds'), p('maxLive')],
    ),
});

/**
 * Uses a ticket up: one guarded delete, so of two replicas redeeming the same ticket at once
 * exactly one sees `redeemed`. Answers the feed position a new stream starts from as well.
 */
export const REDEEM_TICKET = defineStatement({
  name: 'stream_tickets.redeem',
  shapes: {},
  build: (_dataSource, _shape, p) =>
    sqlText(
      `
    WITH used AS (
      DELETE FROM stream_tickets WHERE user_id = $1 AND ticket_hash = $2
      RETURNING expires_at > now() AS valid
    )
    SELECT COALESCE((SELECT valid FROM used), false) AS redeemed,
           ${SNAPSHOT_XMIN} AS snapshot_xmin`,
      [p('userId'), p('ticketHash')],
    ),
});

/** The feed position a new stream starts from (a stream opened with a bearer token). */
export const FEED_POSITION = defineStatement({
  name: 'stream_tickets.feedPosition',
  shapes: {},
  build: () => sqlText(`SELECT ${SNAPSHOT_XMIN} AS snapshot_xmin`, []),
});

/**
 * Claims up to $1 due reminders and announces each on channel `task_reminders`, in one statement:
 * the announcement is sent if and only if the claim commits. `FOR UPDATE SKIP LOCKED` gives
 * replicas running it at once disjoint rows, and the guard on `reminded_at` (re-checked on the
 * newest row version) makes a second claim of the same reminder impossible. A maintenance job
 * across owners, like the purges: each announcement names its owner, and every read that follows
 * is scoped by it. Served by the partial index `ix_tasks_reminders_due`.
 */
export const CLAIM_DUE_REMINDERS = defineStatement({
  name: 'tasks.claimDueReminders',
  shapes: {},
  build: (_dataSource, _shape, p) =>
    sqlText(
      jobStatement(
        'reminders',
        `
    WITH claimed AS (
      UPDATE tasks SET reminded_at = now()
       WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM tasks
          WHERE remind_at <= now() AND remind_at IS NOT NULL AND reminded_at IS NULL
            AND deleted_at IS NULL AND NOT completed
          ORDER BY remind_at
          LIMIT $1::int
            FOR UPDATE SKIP LOCKED))
         AND reminded_at IS NULL AND deleted_at IS NULL AND NOT completed
      RETURNING user_id, id
    )
    SELECT id, pg_notify('task_reminders', json_build_object('user_id', user_id, 'id', id)::text)
      FROM claimed`,
      ),
      [p('limit')],
    ),
});
