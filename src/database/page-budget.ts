/**
 * Pages bounded by bytes as well as by items. A user's rows can be large (a task holds up to
 * 10,000 characters of description, 40 KB in UTF-8), so a page of 1,000 of them would be 40 MB
 * in the process: a few such requests at once exhaust the heap. The statement itself stops: a
 * running sum of each row's size over the page's order, in the same statement and the same
 * index-ordered pass, keeps the rows that start within the budget. The sizes are read from the
 * rows' headers (`octet_length` of a TOASTed text does not fetch it), so the rows past the budget
 * cost neither a fetch nor a transfer.
 */

/**
 * What a row's JSON holds besides its texts (ids, timestamps, booleans, keys and quotes): an
 * upper bound of a task's or a list's, so that a page of small rows is still bounded.
 */
export const ROW_OVERHEAD_BYTES = 256;

/** The columns a budgeted statement adds to each row (see `budgetedPageText`). */
export interface PageAccounting {
  /** The row's own size: its texts in UTF-8 and `ROW_OVERHEAD_BYTES`. */
  row_bytes: string | number;
  /** The running sum of `row_bytes` over the page's order, this row included. */
  page_bytes: string | number;
  /** 1 for the first row of the page, and so on. */
  page_ordinal: string | number;
}

/** The SQL size of a row: its text columns (`octet_length`, NULL as 0) and the overhead. */
export const rowBytes = (textColumns: readonly string[], alias?: string): string =>
  [
    String(ROW_OVERHEAD_BYTES),
    ...textColumns.map(
      (column) => `coalesce(octet_length(${alias ? `${alias}.` : ''}${column}), 0)`,
    ),
  ].join(' + ');

/**
 * The select expressions of `PageAccounting`, by alias, for a statement ordered by `order` (its
 * ORDER BY, as SQL): one window in the statement's own order, so the sum streams over the index
 * scan with the LIMIT above it.
 */
export function pageAccounting(size: string, order: string): Record<keyof PageAccounting, string> {
  const window = `OVER (ORDER BY ${order} ROWS UNBOUNDED PRECEDING)`;
  return {
    row_bytes: `(${size})`,
    page_bytes: `sum(${size}) ${window}`,
    page_ordinal: `row_number() ${window}`,
  };
}

/**
 * Wraps a statement that selects `PageAccounting` and ends in its LIMIT: keeps the rows that
 * start within the budget (parameter `budget`, `$n`) and one more, which tells the caller that
 * more rows follow; the first two rows always stay, so a single row larger than the budget is
 * still served, a page at a time.
 */
export const budgetedPageText = (statement: string, budget: string): string =>
  `SELECT * FROM (${statement}) page
   WHERE page.page_ordinal <= 2 OR page.page_bytes - page.row_bytes <= ${budget}
   ORDER BY page.page_ordinal`;

/** A page cut from a budgeted statement's rows. */
export interface BudgetedPage<Row> {
  /**
   * The rows of the page, as the statement answered them: each still carries the accounting
   * columns, which no wire form reads (they map properties by name). Not copied without them:
   * a copy per row was a tenth of a page's allocations.
   */
  rows: Row[];
  /** Whether a row follows the page (cut by the item count or by the budget). */
  more: boolean;
  /** The page's size, as counted by the statement. */
  bytes: number;
}

/**
 * The page in a budgeted statement's rows: at most `limit` rows, each ending within `maxBytes`
 * (the first one always), fetched as `limit + 1` rows with `maxBytes` bound as the budget.
 */
export function takeBudgetedPage<Row extends object>(
  rows: readonly (Row & PageAccounting)[],
  limit: number,
  maxBytes: number,
): BudgetedPage<Row> {
  let taken = 0;
  let bytes = 0;
  for (const row of rows) {
    const total = Number(row.page_bytes);
    if (taken === limit || (taken > 0 && total > maxBytes)) break;
    taken += 1;
    bytes = total;
  }
  return { rows: rows.slice(0, taken), more: rows.length > taken, bytes };
}
