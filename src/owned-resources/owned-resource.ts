import type { ConstraintFields } from '../database/data-layer.errors';
import type { IsoTimestamp } from '../database/iso-timestamp';
import { ResourceNotFoundError } from '../database/resource.errors';
import { type NotFoundCode, registerNotFoundCode } from '../http/error-codes';

/**
 * What runs with each update of a resource's rows, in the same statement: columns the update also
 * sets, and an expression its `RETURNING` answers as `followUp` for each row. The expression may
 * call a function that writes (tasks create their next occurrence so), guarded so that a row with
 * nothing to follow pays nothing: PostgreSQL evaluates a `CASE` branch only when it is taken.
 */
export interface WriteFollowUp {
  /** Columns the update also sets, from `after(property)`: the SQL of a property's new value. */
  set(after: (property: string) => string): Record<string, string>;
  /** SQL over the row as written: its unqualified columns, and the whole row by the table's name. */
  answered: string;
}

/**
 * The columns every owned resource has: its owner, a version for `ETag`, and timestamps, which
 * the statements select as ISO-8601 text (database/iso-timestamp.ts).
 */
export interface OwnedEntity {
  id: string;
  userId: string;
  version: number;
  createdAt: IsoTimestamp;
  updatedAt: IsoTimestamp;
}

/** One value of a composite sort key in a cursor; `?`: may be null (an empty part). */
export type CursorPart = 'timestamp' | 'timestamp?' | 'date?' | 'boolean';

/** What a sort sorts by (then by id), and how a cursor carries the value. */
export type SortBy<E> =
  | ({ property: keyof E & string } & (
      | { type: 'timestamp' }
      /** At most `maxLength` characters, as the column allows. */
      | { type: 'text'; maxLength: number }
      /** One of `values`, in their declared order (a database enum). */
      | { type: 'enum'; values: readonly string[] }
    ))
  /**
   * Several values, in a resource's own list statement (a due date then a due instant): the
   * cursor carries them space-separated, each of its `parts` type.
   */
  | { type: 'composite'; parts: readonly CursorPart[] };

/** A sort order. */
export type SortKey<E> = SortBy<E> & { descending: boolean };

/** A sort in both directions: `name` ascending and `-name` descending (ties by id, likewise). */
export function bothWays<E, N extends string>(
  name: N,
  key: SortBy<E>,
): Record<N | `-${N}`, SortKey<E>> {
  const ascending: SortKey<E> = { ...key, descending: false };
  const descending: SortKey<E> = { ...key, descending: true };
  return { [name]: ascending, [`-${name}`]: descending } as Record<N | `-${N}`, SortKey<E>>;
}

/**
 * What the shared machinery needs to know about an owned resource. Its columns are not listed
 * here: they are the entity's (TypeORM's metadata gives property and column names), so a column
 * added to the entity is selected and returned by every statement without another edit.
 */
export interface OwnedResource<E extends OwnedEntity, Sort extends string = string> {
  /** The table, and the prefix of its statements' names (`tasks.findOne`, `docs/sql/tasks.sql`). */
  table: string;
  entity: new () => E;
  /** How messages name one: "task". */
  noun: string;
  /** The error catalogue's code for a missing one (specification §4). */
  notFoundCode: NotFoundCode;
  /** The `sort` values of the collection; a leading "-" means descending, by convention. */
  sorts: Readonly<Record<Sort, SortKey<E>>>;
  /**
   * The resource's list statement is its own (filters beyond equality, composite sorts): the
   * shared one is not declared, and the repository overrides `list`.
   */
  ownList?: true;
  /** Properties a collection can be filtered by, with equality (`?completed=true`). */
  filters: readonly (keyof E & string)[];
  /**
   * Those of `filters` that an index serves (after `user_id`). Each has list statements of its
   * own, so that even the generic plan of a prepared statement reads that index; the other
   * filters are one predicate each that passes when its value is not given.
   */
  indexedFilters?: readonly (keyof E & string)[];
  /** Properties a create may set; those it does not send take their column defaults. */
  insertable: readonly (keyof E & string)[];
  /** Properties an update may change. */
  updatable: readonly (keyof E & string)[];
  /**
   * SQL that stores a written property instead of its bare value: `:value` stands for the value,
   * `:userId` for the owner (tasks' tags take the owner's existing spelling of each name).
   */
  writtenAs?: Readonly<Partial<Record<keyof E & string, string>>>;
  /**
   * What every update of existing rows (the update, the resource's own writes, bulk changes) also
   * does in the same statement, such as creating tasks' next occurrences (owned-statements.ts).
   */
  writeFollowUp?: WriteFollowUp;
  /** The table's named constraints, and the input field each protects. */
  constraints: ConstraintFields;
  /**
   * Creates honour `Idempotency-Key` (specification §9): the create and its key are one
   * statement, a retry replays the first answer.
   */
  idempotentCreates?: boolean;
  /**
   * The resource has a changes feed (specification §10); `trash`: the table has `deleted_at`,
   * and a trashed row is reported as deleted.
   */
  changesFeed?: { trash: boolean };
  /**
   * SQL predicates every read and write adds after the owner's, on unqualified columns: a
   * soft-deleting resource says `deleted_at IS NULL` here.
   */
  visible?: readonly string[];
  /**
   * Same-owner references to other owned resources, by property (tasks: `listId` to lists). The
   * table's foreign key on `(user_id, <column>)` refuses a missing row and another user's alike;
   * where the referenced resource hides rows by `visible` (the trash), a write also refuses a
   * hidden one the same way, in its own statement: a reference names a row its owner can see.
   */
  references?: Readonly<Partial<Record<keyof E & string, ReferencedResource>>>;
  /**
   * The MCP tools agents get for the resource (specification §16), each one operation of its
   * REST API: `add_<noun>`, `list_<table>`, and `update_`, `complete_`, `delete_`, `restore_<noun>`.
   */
  agentTools?: readonly AgentTool[];
}

/** What a reference needs of the resource it names. */
export type ReferencedResource = Pick<OwnedResource<OwnedEntity>, 'table' | 'visible'>;

/** What an agent may do with an owned resource, as an MCP tool (src/mcp/agent-tools.ts). */
export type AgentTool = 'add' | 'list' | 'update' | 'complete' | 'delete' | 'restore';

/** Declares a resource, and adds its not-found code to the error catalogue. */
export function ownedResource<E extends OwnedEntity, Sort extends string>(
  resource: OwnedResource<E, Sort>,
): OwnedResource<E, Sort> {
  registerNotFoundCode(resource.notFoundCode);
  return resource;
}

export const sortNames = <E extends OwnedEntity, Sort extends string>(
  resource: OwnedResource<E, Sort>,
): Sort[] => Object.keys(resource.sorts) as Sort[];

/** The error for a resource that is missing, or another user's. */
export const notFound = <E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
  id: string,
): ResourceNotFoundError => new ResourceNotFoundError(resource.notFoundCode, resource.noun, id);
