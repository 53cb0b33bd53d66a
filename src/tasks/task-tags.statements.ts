import { defineStatement, sqlText } from '../database/compiled-statements';
import { ownerScope } from '../owned-resources/owned-statements';
import { TASKS } from './tasks.resource';

/**
 * The statements of the tags collection (specification §13). A tag is the set of the owner's
 * live tasks that carry a name, matched case-insensitively, so each statement reads or changes
 * those tasks through `ix_tasks_tags`; a rename or a delete is one update that bumps each
 * touched task's version (and so reaches the changes feed).
 */

const CHECKED = [false, true];

/** Whether a task carries the tag `:name`, whatever its case (served by ix_tasks_tags). */
const CARRIES_TAG = 'task_tag_keys(tags) @> ARRAY[lower(:name::text)]';

/** The tags minus `:name`, in any case. */
const WITHOUT_TAG =
  'ARRAY(SELECT tag FROM unnest(tags) AS tag WHERE lower(tag) <> lower(:name::text))';

/**
 * The owner's tags in case-insensitive order with the number of live tasks carrying each, from
 * after the key `afterKey` when resumed. Reads every live task of the owner: its cost follows
 * their number, bounded by the page's `limit` on the output only.
 */
export const LIST_TAGS = defineStatement({
  name: 'tasks.listTags',
  shapes: { resumed: CHECKED },
  limit: 'limit',
  build: (dataSource, shape, p) => {
    const [owned, parameters] = ownerScope(dataSource, TASKS, p)
      .select('tags', 'tags')
      .getQueryAndParameters();
    const after = shape.resumed ? `HAVING lower(tag) > $${parameters.length + 1}` : '';
    return sqlText(
      `SELECT min(tag) AS name, count(*)::int AS "taskCount", lower(tag) AS key
         FROM (${owned}) AS owned, unnest(owned.tags) AS tag
        GROUP BY lower(tag) ${after}
        ORDER BY lower(tag)`,
      [...(parameters as string[]), ...(shape.resumed ? [p('afterKey')] : [])],
    );
  },
});

/**
 * Renames the tag `:name` to `:newName` on every live task carrying it. The new name takes the
 * owner's spelling when another tag already has it in some case (a merge: first spelling
 * kept), and its own when only the case changes; a task carrying both ends with one.
 */
export const RENAME_TAG = defineStatement({
  name: 'tasks.renameTag',
  shapes: {},
  build: (dataSource, _shape, p) =>
    ownerScope(dataSource, TASKS, p)
      .update()
      .set({
        tags: () => `task_tags_sorted(array_prepend(
          (SELECT CASE WHEN lower(:newName::text) = lower(:name::text) THEN :newName::text
                       ELSE (task_tags_spelled(:userId, ARRAY[:newName::text]))[1] END),
          ${WITHOUT_TAG}))`,
        version: () => 'version + 1',
      })
      .setParameters({ name: p('name'), newName: p('newName'), userId: p('userId') })
      .andWhere(CARRIES_TAG)
      .returning('"id" AS "id"'),
});

/** Removes the tag `:name` from every live task carrying it. */
export const DELETE_TAG = defineStatement({
  name: 'tasks.deleteTag',
  shapes: {},
  build: (dataSource, _shape, p) =>
    ownerScope(dataSource, TASKS, p)
      .update()
      .set({ tags: () => WITHOUT_TAG, version: () => 'version + 1' })
      .setParameters({ name: p('name') })
      .andWhere(CARRIES_TAG)
      .returning('"id" AS "id"'),
});
