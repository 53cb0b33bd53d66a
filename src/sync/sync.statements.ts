import { jobStatement } from '../database/periodic-job';
/**
 * The SQL of the changes feed, idempotent creates and the purge jobs (specification §9–§11;
 * design in docs/sync.md). Each is one statement: one round trip, one snapshot, all or nothing.
 * Builders take the owned table and its wire columns, so lists use the same statements as tasks.
 * The trash's and bulk changes' statements are compiled ones: src/tasks/task-trash.statements.ts.
 */

import { isoTimestamp } from '../database/iso-timestamp';
import { pageAccounting, rowBytes } from '../database/page-budget';

/** An owned table as these statements see it. */
export interface SyncedResource {
  /** The table, also the `resource` of its tombstones and horizon (`tasks`, `lists`). */
  table: string;
  /** The columns a read returns, unqualified and in wire order (the mapper's row shape). */
  columns: readonly string[];
  /**
   * The name the changes feed answers each of `columns` under, in the same order: the entity's
   * property (`user_id AS "userId"`), as the owned statements answer them, so that a change's
   * row is its item with no mapping step. Default: the column's own name.
   */
  properties?: readonly string[];
  /** Those of them that are timestamps, answered as ISO-8601 text like every other statement's. */
  timestamps: readonly string[];
  /** The table has `deleted_at` (a trash): trashed rows are reported as deleted. */
  trash: boolean;
  /** Its text columns, whose sizes count against a page's byte budget. */
  texts: readonly string[];
}

/** The nil UUID: below every generated id, so `(xid, nil)` is the start of transaction `xid`. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

const qualified = (alias: string, columns: readonly string[]): string =>
  columns.map((column) => `${alias}.${column}`).join(', ');

/**
 * The columns as a read answers them: `qualified`, timestamps as ISO-8601 text, each under its
 * name in `names` (default: its own).
 */
const answered = (
  alias: string,
  columns: readonly string[],
  timestamps: readonly string[],
  names: readonly string[] = columns,
) =>
  columns
    .map((column, at) => {
      const name = names[at] === column ? column : `"${names[at]}"`;
      if (timestamps.includes(column)) return `${isoTimestamp(`${alias}.${column}`)} AS ${name}`;
      return names[at] === column ? `${alias}.${column}` : `${alias}.${column} AS ${name}`;
    })
    .join(', ');

/**
 * The changes feed. Parameters: $1 owner, $2 position's `change_xid` (bigint, as text), $3
 * position's id (uuid; `NIL_UUID` from the start of $2), $4 limit, $5 incremental (false for the
 * first sync: live rows only, no tombstones, never expired), $6 the page's byte budget.
 *
 * Every result row carries `snapshot_xmin` (no transaction below it is still running, so no row
 * can still appear below it) and `expired` (tombstones after the position were purged: answer
 * 410). The change rows follow in `(change_xid, id)` order, at most $4 + 1 of them (one more than
 * a page says whether there are more), cut like a list's page by the byte budget
 * (database/page-budget.ts: the rows starting within it, and at least two), each with the columns
 * of `PageAccounting`, `deleted`, and the resource's columns under their `properties` (NULL in a
 * deletion); without any, one row with `id` NULL carries the two flags.
 */
export function changesStatement({
  table,
  columns,
  properties = columns,
  timestamps,
  trash,
  texts,
}: SyncedResource): string {
  const data = columns.filter((column) => column !== 'id');
  const dataProperties = properties.filter((_property, at) => columns[at] !== 'id');
  const trashed = trash ? 'r.deleted_at IS NOT NULL' : 'false';
  const accounting = pageAccounting(rowBytes(texts, 'changes'), 'changes.change_xid, changes.id');
  return `
    WITH horizon AS (
      SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snapshot_xmin,
             $5::boolean AND $2::bigint <= COALESCE(
               (SELECT purged_through FROM sync_horizons WHERE resource = '${table}'), -1
             ) AS expired
    ),
    live AS (
      SELECT r.change_xid, r.id, ${trashed} AS deleted, ${qualified('r', data)}
        FROM ${table} r
       WHERE r.user_id = $1
         AND (r.change_xid, r.id) > ($2::bigint, $3::uuid)
         AND ($5::boolean OR NOT (${trashed}))
       ORDER BY r.change_xid, r.id
       LIMIT $4::int + 1
    ),
    gone AS (
      -- The join on false gives the table's columns as NULLs of their own types.
      SELECT g.change_xid, g.id, true AS deleted, ${qualified('r', data)}
        FROM tombstones g LEFT JOIN ${table} r ON false
       WHERE $5::boolean
         AND g.user_id = $1 AND g.resource = '${table}'
         AND (g.change_xid, g.id) > ($2::bigint, $3::uuid)
       ORDER BY g.change_xid, g.id
       LIMIT $4::int + 1
    ),
    counted AS (
      SELECT changes.*, ${accounting.row_bytes} AS row_bytes,
             ${accounting.page_bytes} AS page_bytes, ${accounting.page_ordinal} AS page_ordinal
        FROM (SELECT * FROM live UNION ALL SELECT * FROM gone) changes
       ORDER BY changes.change_xid, changes.id
       LIMIT $4::int + 1
    ),
    page AS (
      SELECT * FROM counted
       WHERE page_ordinal <= 2 OR page_bytes - row_bytes <= $6::bigint
    )
    SELECT h.snapshot_xmin::text AS snapshot_xmin, h.expired,
           p.change_xid::text AS change_xid, p.id, p.deleted,
           ${answered('p', data, timestamps, dataProperties)},
           p.row_bytes, p.page_bytes, p.page_ordinal
      FROM horizon h
      LEFT JOIN page p ON NOT h.expired
     ORDER BY p.change_xid, p.id`;
}

/**
 * A create and its idempotency key in one statement: a crash cannot keep one without the other,
 * and the key costs no extra round trip. `insert` is the resource's
 * `INSERT … RETURNING <columns>` with its own parameters; the key's parameters follow them at
 * `first`: key, request hash (hex SHA-256), the collection path ending in `/` (the stored
 * Location is that path and the new id), the key's lifetime in hours.
 *
 * A second request with the key fails with 23505 on `pk_idempotency_keys`, after waiting for the
 * first to commit; the caller then runs `replayStatement`.
 */
export function idempotentCreateStatement(
  insert: string,
  first: number,
  { columns, timestamps }: SyncedResource,
): string {
  const [key, hash, path, hours] = [first, first + 1, first + 2, first + 3].map((n) => `$${n}`);
  return `
    WITH created AS (${insert}),
    stored AS (
      INSERT INTO idempotency_keys
             (user_id, key, request_hash, resource_path, status, response, expires_at)
      SELECT created.user_id, ${key}, ${hash}, ${path} || created.id, 201, to_jsonb(created),
             now() + make_interval(hours => ${hours}::int)
        FROM created
      RETURNING resource_path
    )
    SELECT ${answered('created', columns, timestamps)}, stored.resource_path
      FROM created, stored`;
}

/**
 * The stored answer of a key ($1 owner, $2 key), as the create's row again (same columns and
 * types, for the same mapper) with the request hash, status and Location, and `current_version`:
 * the version the resource is at now (NULL when it is gone or in the trash), so that a replay
 * carries an ETag only while it is true. No row: the key was never used (or was purged).
 * `expired`: release it with `RELEASE_EXPIRED_KEY` and create again.
 */
export function replayStatement({ table, columns, timestamps, trash }: SyncedResource): string {
  return `
    SELECT k.request_hash, k.status, k.resource_path, k.expires_at <= now() AS expired,
           ${answered('r', columns, timestamps)},
           (SELECT c.version FROM ${table} c
             WHERE c.user_id = $1 AND c.id = r.id${trash ? ' AND c.deleted_at IS NULL' : ''}
           ) AS current_version
      FROM idempotency_keys k,
           jsonb_populate_record(NULL::${table}, k.response) r
     WHERE k.user_id = $1 AND k.key = $2`;
}

/** Frees an expired key that the purge job has not reached yet ($1 owner, $2 key). */
export const RELEASE_EXPIRED_KEY = `
  DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND expires_at <= now()`;

/**
 * Expired idempotency keys, at most $1 of them per call. SKIP LOCKED: replicas running the job
 * at once take disjoint batches instead of queueing on the same rows. The batch is an array of
 * row addresses (`ctid`, stable while the rows are locked), so the delete is a TID scan whatever
 * the planner thinks of the batch's size.
 */
export const PURGE_EXPIRED_KEYS = jobStatement(
  'maintenance',
  `
  DELETE FROM idempotency_keys
   WHERE ctid = ANY (ARRAY(
     SELECT ctid FROM idempotency_keys
      WHERE expires_at <= now()
      ORDER BY expires_at
      LIMIT $1::int
        FOR UPDATE SKIP LOCKED))`,
);

/**
 * Deletes for good rows trashed more than $1 days ago, at most $2 per call, oldest first; their
 * tombstones are written by the delete trigger. SKIP LOCKED: processes running the job at once
 * take disjoint batches, and a row being restored is left alone.
 */
export const purgeTrashStatement = (table: string): string =>
  jobStatement(
    'maintenance',
    `
  DELETE FROM ${table}
   WHERE ctid = ANY (ARRAY(
     SELECT ctid FROM ${table}
      WHERE deleted_at IS NOT NULL AND deleted_at < now() - make_interval(days => $1::int)
      ORDER BY deleted_at
      LIMIT $2::int
        FOR UPDATE SKIP LOCKED))
  RETURNING id`,
  );

/**
 * Deletes tombstones older than $1 days, at most $2 per call, and raises each resource's horizon
 * to the newest transaction purged: a token at or below it is expired (410 SYNC_TOKEN_EXPIRED).
 */
export const PURGE_TOMBSTONES = jobStatement(
  'maintenance',
  `
  WITH purged AS (
    DELETE FROM tombstones
     WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM tombstones
        WHERE deleted_at < now() - make_interval(days => $1::int)
        ORDER BY deleted_at
        LIMIT $2::int
          FOR UPDATE SKIP LOCKED))
    RETURNING resource, change_xid
  ),
  horizon AS (
    INSERT INTO sync_horizons (resource, purged_through)
    SELECT resource, max(change_xid) FROM purged GROUP BY resource
    ON CONFLICT (resource)
      DO UPDATE SET purged_through = GREATEST(sync_horizons.purged_through, EXCLUDED.purged_through)
  )
  SELECT count(*)::int AS purged FROM purged`,
);
