import { defineStatement } from '../database/compiled-statements';
import { columnList, ownerScope } from '../owned-resources/owned-statements';
import { TASK_SORTS, TASKS, type TaskSort } from './tasks.resource';

/**
 * The list of live tasks (specification §13): every filter, every sort, search, keyset pages.
 *
 * Its statements grow with the options that change the plan, not with the filters sent: each
 * filter on a column is always in the text and switched off by a null parameter
 * (`$x IS NULL OR …`, which the planner folds away for the values it is given), so the shapes
 * are sort × resumed × tagged × searched. Tags and search, which their GIN indexes serve, are in
 * the text only when asked for. Every sort reads an index that leads with `user_id` in the order
 * of the sort, resumed by a row comparison, so page N costs what page 1 costs.
 */

const CHECKED = [false, true];

/** Whether the title alone matches every word (weight A), for relevance. */
const TITLE_MATCH = `(search @@ task_search_query(:words::text[], true))`;

interface SortTerm {
  /** The key as the index holds it. */
  key: string;
  /** The same key of the cursor's value, parameter `:after<n>`. */
  after: (parameter: string) => string;
}

const column = (name: string, type: string): SortTerm => ({
  key: name,
  after: (parameter) => `:${parameter}::${type}`,
});
/** A nullable column, a null sorting as `sentinel` (an infinity of its type). */
const withNulls = (name: string, type: string, sentinel: string): SortTerm => ({
  key: `COALESCE(${name}, '${sentinel}'::${type})`,
  after: (parameter) => `COALESCE(:${parameter}::${type}, '${sentinel}'::${type})`,
});

/**
 * The terms of each sort, then id. The sentinels keep a task without a due date last in both
 * directions (ix_tasks_user_id_due, ix_tasks_user_id_due_desc), and an all-day task (no
 * `due_at`) after the timed ones of its day ascending, before them descending.
 */
const SORT_TERMS = (searched: boolean): Record<TaskSort, SortTerm[]> => ({
  created_at: [column('created_at', 'timestamptz')],
  '-created_at': [column('created_at', 'timestamptz')],
  updated_at: [column('updated_at', 'timestamptz')],
  '-updated_at': [column('updated_at', 'timestamptz')],
  title: [column('title', 'varchar')],
  '-title': [column('title', 'varchar')],
  priority: [column('priority', 'task_priority')],
  '-priority': [column('priority', 'task_priority')],
  due: [withNulls('due_date', 'date', 'infinity'), withNulls('due_at', 'timestamptz', 'infinity')],
  '-due': [
    withNulls('due_date', 'date', '-infinity'),
    withNulls('due_at', 'timestamptz', 'infinity'),
  ],
  relevance: [
    { key: searched ? TITLE_MATCH : 'false', after: (parameter) => `:${parameter}::boolean` },
    column('created_at', 'timestamptz'),
  ],
});

/**
 * Parameters: userId, completed, listId, priorities (task_priority[]), dueFrom, dueTo, hasDue
 * (each null for no filter); tags (all required, any case) when tagged; words (q, split
 * at white space) when searched; after0, after1, afterId when resumed; limit.
 */
export const LIST_TASKS = defineStatement({
  name: 'tasks.list',
  shapes: { sort: TASK_SORTS, resumed: CHECKED, tagged: CHECKED, searched: CHECKED },
  limit: 'limit',
  build: (dataSource, shape, p) => {
    const terms = SORT_TERMS(shape.searched)[shape.sort];
    const descending = TASKS.sorts[shape.sort].descending;
    const selected = shape.searched
      ? `${columnList(dataSource, TASKS)}, ${TITLE_MATCH} AS "titleMatch"`
      : columnList(dataSource, TASKS);
    const builder = ownerScope(dataSource, TASKS, p)
      .select(selected)
      .andWhere('(:completed::boolean IS NULL OR completed = :completed)')
      .andWhere('(:listId::uuid IS NULL OR list_id = :listId)')
      .andWhere('(:priorities::task_priority[] IS NULL OR priority = ANY(:priorities))')
      .andWhere('(:dueFrom::date IS NULL OR due_date >= :dueFrom)')
      .andWhere('(:dueTo::date IS NULL OR due_date <= :dueTo)')
      .andWhere('(:hasDue::boolean IS NULL OR (due_date IS NOT NULL) = :hasDue)')
      .setParameters({
        completed: p('completed'),
        listId: p('listId'),
        priorities: p('priorities'),
        dueFrom: p('dueFrom'),
        dueTo: p('dueTo'),
        hasDue: p('hasDue'),
      });
    if (shape.tagged) {
      // Lower-cased by the same function as the index's, so both sides agree on every letter.
      builder.andWhere('task_tag_keys(tags) @> task_tag_keys(:tags::text[])', { tags: p('tags') });
    }
    if (shape.searched) {
      builder.andWhere('search @@ task_search_query(:words::text[], false)', { words: p('words') });
    }
    if (shape.resumed) {
      const keys = terms.map((term) => term.key);
      const after = terms.map((term, index) => term.after(`after${index}`));
      builder.andWhere(
        `(${[...keys, 'id'].join(', ')}) ${descending ? '<' : '>'} (${[...after, ':afterId'].join(', ')})`,
        {
          ...Object.fromEntries(terms.map((_term, index) => [`after${index}`, p(`after${index}`)])),
          afterId: p('afterId'),
        },
      );
    }
    const direction = descending ? 'DESC' : 'ASC';
    for (const term of terms) builder.addOrderBy(term.key, direction);
    return builder.addOrderBy('id', direction);
  },
});
