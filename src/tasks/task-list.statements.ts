import type { DataSource } from 'typeorm';
import {
  defineStatement,
  type ParameterName,
  type StatementText,
} from '../database/compiled-statements';
import {
  columnList,
  ownerScope,
  rowBytesOf,
  withPageAccounting,
} from '../owned-resources/owned-statements';
import { TASK_SORTS, TASKS, type TaskSort } from './tasks.resource';

/**
 * The list of live tasks (specification §13): every filter, every sort, search, keyset pages.
 *
 * Its statements grow with the options that change the plan, not with the filters sent. Each
 * filter is in every text, switched off by a null parameter (`CASE WHEN $x IS NULL THEN true
 * ELSE … END`, which the plan of each call folds away: the statement is not prepared), so the
 * shapes are sort × indexed filter × resumed. The indexed filter is the one filter given
 * whose own index should find the rows (search, then tags through their GIN indexes, then a
 * list through ix_tasks_user_id_list_id): it is written as a plain predicate that the index
 * serves. Every sort reads an index that leads with `user_id` in the order of the sort, resumed
 * by a row comparison, so page N costs what page 1 costs.
 */

/** The filters that can pick a statement of their own, the first given first. */
export const INDEXED_TASK_FILTERS = ['words', 'tags', 'listId'] as const;
export type IndexedTaskFilter = (typeof INDEXED_TASK_FILTERS)[number] | 'none';

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

/** The predicate of each filter, on its parameter. */
const FILTERS: Record<string, { given: string; predicate: string }> = {
  completed: { given: ':completed::boolean', predicate: 'completed = :completed' },
  listId: { given: ':listId::uuid', predicate: 'list_id = :listId' },
  priorities: {
    given: ':priorities::task_priority[]',
    predicate: 'priority = ANY(:priorities::task_priority[])',
  },
  dueFrom: { given: ':dueFrom::date', predicate: 'due_date >= :dueFrom::date' },
  dueTo: { given: ':dueTo::date', predicate: 'due_date <= :dueTo::date' },
  hasDue: { given: ':hasDue::boolean', predicate: '(due_date IS NOT NULL) = :hasDue' },
  // Lower-cased by the same function as the index's, so both sides agree on every letter.
  tags: {
    given: ':tags::text[]',
    predicate: 'task_tag_keys(tags) @> task_tag_keys(:tags::text[])',
  },
  words: {
    given: ':words::text[]',
    predicate: 'search @@ task_search_query(:words::text[], false)',
  },
};

/** The shapes and options of a page of tasks: which filters are in its text. */
interface ListShape {
  sort: TaskSort;
  indexedFilter: IndexedTaskFilter;
  resumed: boolean;
}

/**
 * A page of tasks: `filtered`, every filter of FILTERS is in its text (switched off by a null
 * parameter, but the one of `indexedFilter`); not, none is, and the statement reads the
 * sort's index from the owner's first row.
 */
function listText(
  dataSource: DataSource,
  shape: ListShape,
  p: ParameterName,
  filtered: boolean,
): StatementText {
  const searched = shape.indexedFilter === 'words';
  const terms = SORT_TERMS(searched)[shape.sort];
  const descending = TASKS.sorts[shape.sort].descending;
  const selected = searched
    ? `${columnList(dataSource, TASKS)}, ${TITLE_MATCH} AS "titleMatch"`
    : columnList(dataSource, TASKS);
  const builder = ownerScope(dataSource, TASKS, p).select(selected);
  for (const [name, { given, predicate }] of filtered ? Object.entries(FILTERS) : []) {
    builder.andWhere(
      name === shape.indexedFilter
        ? predicate
        : `CASE WHEN ${given} IS NULL THEN true ELSE ${predicate} END`,
      { [name]: p(name) },
    );
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
  const order = [...terms.map((term) => term.key), 'id'].map((key) => `${key} ${direction}`);
  withPageAccounting(builder, rowBytesOf(dataSource, TASKS), order.join(', '));
  for (const term of terms) builder.addOrderBy(term.key, direction);
  return builder.addOrderBy('id', direction);
}

/**
 * Parameters: userId; completed, listId, priorities (task_priority[]), dueFrom, dueTo, hasDue,
 * tags (all required, any case), words (q split at white space), each null for no filter;
 * after0, after1, afterId when resumed; limit; maxBytes, the page's byte budget
 * (database/page-budget.ts).
 */
export const LIST_TASKS = defineStatement({
  name: 'tasks.list',
  shapes: {
    sort: TASK_SORTS,
    indexedFilter: ['none', ...INDEXED_TASK_FILTERS] as IndexedTaskFilter[],
    resumed: CHECKED,
  },
  limit: 'limit',
  budget: 'maxBytes',
  // Planned with each call's values: which filters are on decides the index (a generic plan
  // estimates every switched-off filter as halving the rows, and then sorts all the owner's).
  prepared: false,
  build: (dataSource, shape, p) => listText(dataSource, shape, p, true),
});

/**
 * A page with no filter at all, the page every client asks for first: no switched-off
 * predicate, so one plan serves every call (the sort's index, from the owner's first row or
 * the cursor's) and the statement is prepared once per connection.
 * Parameters: userId; after0, after1, afterId when resumed; limit; maxBytes.
 */
export const LIST_ALL_TASKS = defineStatement({
  name: 'tasks.listAll',
  // Relevance needs a search, so a page sorted by it is always filtered.
  shapes: { sort: TASK_SORTS.filter((sort) => sort !== 'relevance'), resumed: CHECKED },
  limit: 'limit',
  budget: 'maxBytes',
  build: (dataSource, shape, p) =>
    listText(dataSource, { ...shape, indexedFilter: 'none' }, p, false),
});
