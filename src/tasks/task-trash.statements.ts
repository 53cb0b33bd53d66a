import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { defineStatement, type ParameterName } from '../database/compiled-statements';
import {
  columnList,
  FIELDS_SENT,
  ownerScope,
  returningWritten,
  rowBytesOf,
  sentChanges,
  sentParameters,
  withExpectedVersion,
  withFollowUpChanges,
  withPageAccounting,
} from '../owned-resources/owned-statements';
import { Task } from './task.entity';
import { TASKS } from './tasks.resource';

/**
 * The statements of the trash and of bulk changes (specification §11; design in docs/sync.md).
 * Each is one statement scoped to its owner; live ones start from `ownerScope`, which adds
 * `deleted_at IS NULL`, and the trash's own say `deleted_at IS NOT NULL` themselves.
 */

const CHECKED = [false, true];
const TARGET: EntityTarget<ObjectLiteral> = Task;

/** Moves one live task to the trash. The version is kept: restore is the change that counts. */
export const TRASH_TASK = defineStatement({
  name: 'tasks.trash',
  shapes: { checked: CHECKED },
  build: (dataSource, shape, p) =>
    withExpectedVersion(
      ownerScope(dataSource, TASKS, p)
        .update()
        .set({ deletedAt: () => 'now()' })
        .andWhere('id = :id', { id: p('id') }),
      p,
      shape.checked,
    ).returning('"id" AS "id"'),
});

/** The owner's trashed tasks, scoped by hand: `ownerScope` would hide them. */
const trashedOf = (dataSource: DataSource, p: ParameterName) =>
  dataSource
    .createQueryBuilder(TARGET, TASKS.table)
    .where('user_id = :userId', { userId: p('userId') })
    .andWhere('deleted_at IS NOT NULL');

/** Brings a trashed task back, `version` + 1. No row: not in the caller's trash (404). */
export const RESTORE_TASK = defineStatement({
  name: 'tasks.restore',
  shapes: {},
  build: (dataSource, _shape, p) =>
    trashedOf(dataSource, p)
      .update()
      // Its tags take the owner's current spelling again (a rename may have run meanwhile).
      .set({
        deletedAt: () => 'NULL',
        tags: () => 'task_tags_spelled(user_id, tags)',
        version: () => 'version + 1',
      })
      .andWhere('id = :id', { id: p('id') })
      .returning(columnList(dataSource, TASKS)),
});

/** The trash, newest first by `deleted_at` (then id), keyset-paged on `ix_tasks_trash`. */
export const LIST_TRASH = defineStatement({
  name: 'tasks.listTrash',
  shapes: { resumed: CHECKED },
  limit: 'limit',
  budget: 'maxBytes',
  build: (dataSource, shape, p) => {
    const builder = trashedOf(dataSource, p).select(columnList(dataSource, TASKS));
    if (shape.resumed) {
      builder.andWhere('(deleted_at, id) < (:afterValue, :afterId)', {
        afterValue: p('afterValue'),
        afterId: p('afterId'),
      });
    }
    return withPageAccounting(builder, rowBytesOf(dataSource, TASKS), 'deleted_at DESC, id DESC')
      .orderBy('deleted_at', 'DESC')
      .addOrderBy('id', 'DESC');
  },
});

/** Moves the owner's completed live tasks (optionally of one list) to the trash. */
export const CLEAR_COMPLETED = defineStatement({
  name: 'tasks.clearCompleted',
  shapes: { inList: CHECKED },
  build: (dataSource, shape, p) => {
    const builder = ownerScope(dataSource, TASKS, p)
      .update()
      .set({ deletedAt: () => 'now()' })
      .andWhere('completed = true');
    if (shape.inList) builder.andWhere('list_id = :listId', { listId: p('listId') });
    return builder.returning('"id" AS "id"');
  },
});

/** What a bulk update may set to a value, as the fields it was sent name them. */
export const BULK_UPDATABLE = ['completed', 'listId', 'priority'] as const;

/** The tags after a bulk change: `removeTags` taken out, then `addTags` in the owner's spelling. */
const BULK_TAGS = `task_tags_sorted(
  ARRAY(SELECT tag FROM unnest(tags) AS tag
         WHERE lower(tag) <> ALL (task_tag_keys(CAST(:removeTags AS text[]))))
  || (SELECT task_tags_spelled(:userId, CAST(:addTags AS text[]))))`;

/**
 * Changes `completed`, `list_id`, `priority` (those sent) and the tags (when `fieldsSent` names
 * `tags`: `removeTags`, then `addTags`) of every task named in `ids`, `version` + 1, all or
 * nothing. The uncorrelated subquery runs first (once): it locks the named live tasks of the
 * caller in id order (two overlapping bulk updates queue instead of deadlocking; a task trashed
 * meanwhile drops out), and the update applies only if it locked one task per distinct id.
 * No row back: some id is missing, trashed or another user's.
 */
export const BULK_UPDATE = defineStatement({
  name: 'tasks.bulkUpdate',
  shapes: {},
  build: (dataSource, _shape, p) =>
    returningWritten(
      dataSource,
      TASKS,
      ownerScope(dataSource, TASKS, p)
        .update()
        .set({
          ...withFollowUpChanges(dataSource, TASKS, {
            ...sentChanges(dataSource, TASKS, BULK_UPDATABLE),
            tags: () =>
              `CASE WHEN 'tags' = ANY(:${FIELDS_SENT}::text[]) THEN ${BULK_TAGS} ELSE tags END`,
          }),
          version: () => 'version + 1',
        })
        .setParameters(sentParameters([...BULK_UPDATABLE, 'addTags', 'removeTags'], p))
        .andWhere('id = ANY(:ids::uuid[])', { ids: p('ids') })
        .andWhere(
          `(SELECT count(*) FROM (SELECT id FROM tasks
            WHERE user_id = :userId AND deleted_at IS NULL AND id = ANY(:ids::uuid[])
            ORDER BY id FOR UPDATE) AS locked)
         = cardinality(ARRAY(SELECT DISTINCT unnest(:ids::uuid[])))`,
        ),
    ),
});

/** Which of `ids` are live tasks of the owner: run only after a bulk update matched nothing. */
export const LIVE_TASK_IDS = defineStatement({
  name: 'tasks.liveIds',
  shapes: {},
  build: (dataSource, _shape, p) =>
    ownerScope(dataSource, TASKS, p)
      .select('id', 'id')
      .andWhere('id = ANY(:ids::uuid[])', { ids: p('ids') }),
});
