import type { Repository } from 'typeorm';
import {
  CompiledStatements,
  type Shape,
  type ShapeSpace,
  type StatementDefinition,
} from '../database/compiled-statements';
import { DataLayerError } from '../database/data-layer.errors';
import { type BudgetedPage, type PageAccounting, takeBudgetedPage } from '../database/page-budget';
import { InvalidInputError, VersionConflictError } from '../database/resource.errors';
import { FEED_START, type ChangeRow, type FeedPosition, pageOfChanges } from '../sync/change-token';
import {
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  SyncTokenExpiredError,
} from '../sync/sync.errors';
import { untagged } from './entity-tag';
import { type IdempotentRequest, requestHash } from './idempotency';
import { notFound, type OwnedEntity, type OwnedResource } from './owned-resource';
import { pageMemory } from './page-memory';
import {
  FIELDS_SENT,
  fromColumnNames,
  NO_INDEXED_FILTER,
  RELEASE_EXPIRED_IDEMPOTENCY_KEY,
  type OwnedStatements,
} from './owned-statements';

/** Where the previous page ended: the sort key's value and the id of its last item. */
export interface Cursor<Sort extends string = string> {
  sort: Sort;
  /** An ISO-8601 timestamp or a text, as the sort key's type says. */
  value: string;
  id: string;
}

export interface ListQuery<E, Sort extends string> {
  sort: Sort;
  limit: number;
  after?: Cursor<Sort>;
  /** Equality filters on the resource's `filters`; an undefined value filters nothing. */
  where?: Partial<E>;
}

export interface Page<E, Sort extends string> {
  items: E[];
  /** Set when more items follow the last one returned. */
  next: Cursor<Sort> | null;
  /** The page's size as the statement counted it (database/page-budget.ts). */
  bytes: number;
}

/**
 * One entry of a changes feed: a live item, or the id of one deleted (or trashed), with its
 * place in the feed's order (what a live stream resumes from, src/events).
 */
export type Change<E> = ({ deleted: false; item: E } | { deleted: true; id: string }) & {
  position: FeedPosition;
};

export interface ChangesPage<E> {
  changes: Change<E>[];
  next: FeedPosition;
  hasMore: boolean;
  /** The page's size as the statement counted it (database/page-budget.ts). */
  bytes: number;
}

/**
 * Data access for an owned resource. Every method takes the owner first, and every statement it
 * issues carries `user_id = $owner`: another user's row behaves exactly like one that does not
 * exist. A feature's abstract repository extends this and is its DI token.
 */
export abstract class OwnedRepository<E, Sort extends string, Create, Patch> {
  /** With `idempotency`, a retry of the same request answers the first create's item again. */
  abstract create(userId: string, input: Create, idempotency?: IdempotentRequest): Promise<E>;
  abstract findOne(userId: string, id: string): Promise<E | null>;
  abstract list(userId: string, query: ListQuery<E, Sort>): Promise<Page<E, Sort>>;
  abstract update(userId: string, id: string, patch: Patch, expectedVersion?: number): Promise<E>;
  abstract remove(userId: string, id: string, expectedVersion?: number): Promise<void>;
  /** The changes after `since` (every live item without it), `limit` at most. */
  abstract changes(
    userId: string,
    since: FeedPosition | undefined,
    limit: number,
  ): Promise<ChangesPage<E>>;
}

// A key released or taken again between our statements: retried this many times, then 409.
const IDEMPOTENT_CREATE_ATTEMPTS = 3;
const UNIQUE_VIOLATION = '23505';

/** Refuses a blank owner id before any SQL runs. */
export const assertOwner = (userId: string): void => {
  if (typeof userId !== 'string' || userId.trim() === '') {
    throw new InvalidInputError('The owner id must not be blank', 'user_id');
  }
};

/** The properties of `input` that are set (not undefined), in the order of `names`. */
const present = (input: object, names: readonly string[]): string[] =>
  names.filter((name) => (input as Record<string, unknown>)[name] !== undefined);

/**
 * The TypeORM implementation of `OwnedRepository`, on compiled statements: each method is one
 * statement, one round trip. A failed conditional write costs a second statement only to tell
 * "missing" from "at another version".
 */
export class TypeOrmOwnedRepository<
  E extends OwnedEntity,
  Sort extends string,
  Create extends Partial<E>,
  Patch extends Partial<E>,
> implements OwnedRepository<E, Sort, Create, Patch> {
  protected readonly statements: CompiledStatements;
  private readonly fromColumns: (row: Record<string, unknown>) => E;

  constructor(
    readonly resource: OwnedResource<E, Sort>,
    private readonly queries: OwnedStatements,
    repository: Repository<E>,
  ) {
    this.statements = new CompiledStatements(repository.manager.connection, resource.constraints);
    this.fromColumns = fromColumnNames(repository.manager.connection, resource);
  }

  async create(userId: string, input: Create, idempotency?: IdempotentRequest): Promise<E> {
    assertOwner(userId);
    const values = { ...input, userId, [FIELDS_SENT]: present(input, this.resource.insertable) };
    if (idempotency && this.queries.idempotentCreate) {
      return this.createIdempotently(userId, input, values, idempotency);
    }
    const [row] = await this.statements.rows<E, Record<string, never>>(
      this.queries.create,
      {},
      values,
    );
    return row;
  }

  /**
   * The create and its key in one statement, so a create with a key is still one round trip. A
   * retry's insert of the key waits on its unique index until the first request commits, then
   * fails; the stored answer is replayed (a second round trip, on retries only). An expired key
   * is released and the create runs again.
   */
  private async createIdempotently(
    userId: string,
    input: Create,
    values: Record<string, unknown>,
    idempotency: IdempotentRequest,
  ): Promise<E> {
    const { key, collectionPath, ttlHours } = idempotency;
    const hash = requestHash(collectionPath, input);
    for (let attempt = 0; attempt < IDEMPOTENT_CREATE_ATTEMPTS; attempt += 1) {
      try {
        const [created] = await this.statements.rows<
          Record<string, unknown>,
          Record<string, never>
        >(
          this.queries.idempotentCreate as NonNullable<OwnedStatements['idempotentCreate']>,
          {},
          { ...values, key, requestHash: hash, collectionPath, ttlHours },
        );
        return this.fromColumns(created);
      } catch (error) {
        if (!(error instanceof DataLayerError && error.sqlState === UNIQUE_VIOLATION)) throw error;
      }
      const [stored] = await this.statements.rows<
        Record<string, unknown> & {
          request_hash: string;
          expired: boolean;
          version: number;
          current_version: number | null;
        },
        Record<string, never>
      >(this.queries.replay as NonNullable<OwnedStatements['replay']>, {}, { userId, key });
      if (!stored) continue;
      if (stored.expired) {
        await this.statements.rows(RELEASE_EXPIRED_IDEMPOTENCY_KEY, {}, { userId, key });
        continue;
      }
      if (stored.request_hash !== hash) throw new IdempotencyKeyReusedError(key);
      const replayed = this.fromColumns(stored);
      if (stored.current_version !== stored.version) untagged(replayed);
      return replayed;
    }
    throw new IdempotencyKeyInUseError(key);
  }

  async changes(
    userId: string,
    since: FeedPosition | undefined,
    limit: number,
  ): Promise<ChangesPage<E>> {
    assertOwner(userId);
    if (!this.queries.changes) throw new Error(`${this.resource.table} has no changes feed`);
    const requested = since ?? FEED_START;
    const { maxBytes } = pageMemory.limits;
    const rows = await this.statements.rows<
      ChangeRow & Record<string, unknown> & { deleted: boolean | null },
      Record<string, never>
    >(
      this.queries.changes,
      {},
      {
        userId,
        sinceXid: requested.xid,
        sinceId: requested.id,
        limit,
        incremental: since !== undefined,
        maxBytes,
      },
    );
    if (rows[0]?.expired) throw new SyncTokenExpiredError(this.resource.table);
    const page = pageOfChanges(rows, limit, maxBytes, requested);
    return {
      // A live change's row is its item: the statement answers the columns under their
      // properties, as every other read does (the feed's own columns beside them are not read).
      changes: page.changes.map((row): Change<E> => {
        const position = { xid: row.change_xid as string, id: row.id as string };
        return row.deleted
          ? { deleted: true, id: row.id as string, position }
          : { deleted: false, item: row as unknown as E, position };
      }),
      next: page.next,
      hasMore: page.hasMore,
      bytes: page.bytes,
    };
  }

  async findOne(userId: string, id: string): Promise<E | null> {
    assertOwner(userId);
    const [row] = await this.statements.rows<E, Record<string, never>>(
      this.queries.findOne,
      {},
      { userId, id },
    );
    return row ?? null;
  }

  async list(userId: string, query: ListQuery<E, Sort>): Promise<Page<E, Sort>> {
    assertOwner(userId);
    const where = query.where ?? {};
    // The first indexed filter given picks its statement; the others are predicates in each.
    const [indexedFilter = NO_INDEXED_FILTER] = present(where, this.resource.indexedFilters ?? []);
    if (!this.queries.list) throw new Error(`${this.resource.table} lists by its own statement`);
    const page = await this.pageOf(
      this.queries.list,
      { sort: query.sort, indexedFilter, resumed: query.after !== undefined },
      { ...where, userId, afterValue: query.after?.value, afterId: query.after?.id },
      query.limit,
    );
    const last = page.more ? page.rows[page.rows.length - 1] : null;
    const key = this.resource.sorts[query.sort];
    if (key.type === 'composite')
      throw new Error(`${this.resource.table} lists by its own statement`);
    return {
      items: page.rows,
      next: last ? { sort: query.sort, value: String(last[key.property]), id: last.id } : null,
      bytes: page.bytes,
    };
  }

  /**
   * Runs a statement of pages (one with `limit` and `budget`, database/page-budget.ts) for at most
   * `limit` items within the process's page budget: the page, and whether more rows follow.
   */
  protected async pageOf<S extends ShapeSpace>(
    definition: StatementDefinition<S>,
    shape: Shape<S>,
    values: Record<string, unknown>,
    limit: number,
  ): Promise<BudgetedPage<E>> {
    const { maxBytes } = pageMemory.limits;
    const rows = await this.statements.rows<E & PageAccounting, S>(definition, shape, {
      ...values,
      limit: limit + 1,
      maxBytes,
    });
    return takeBudgetedPage<E>(rows, limit, maxBytes);
  }

  async update(userId: string, id: string, patch: Patch, expectedVersion?: number): Promise<E> {
    const fields = present(patch, this.resource.updatable);
    if (fields.length === 0) {
      throw new InvalidInputError('An update must change at least one field', null);
    }
    return this.write(
      this.queries.update,
      { checked: expectedVersion !== undefined },
      userId,
      id,
      expectedVersion,
      { ...patch, [FIELDS_SENT]: fields },
    );
  }

  async remove(userId: string, id: string, expectedVersion?: number): Promise<void> {
    assertOwner(userId);
    const rows = await this.statements.rows<{ id: string }, { checked: boolean[] }>(
      this.queries.remove,
      { checked: expectedVersion !== undefined },
      { userId, id, expectedVersion },
    );
    if (rows.length === 0) await this.explainMissing(userId, id, expectedVersion);
  }

  /**
   * Runs an owned write of one row (the update, or a resource's own from `defineOwnedWrite`)
   * and explains a miss. `shape.checked` says whether `expectedVersion` is bound.
   */
  protected async write<S extends ShapeSpace>(
    definition: StatementDefinition<S>,
    shape: Shape<S>,
    userId: string,
    id: string,
    expectedVersion: number | undefined,
    values: object = {},
  ): Promise<E> {
    assertOwner(userId);
    const rows = await this.statements.rows<E, S>(definition, shape, {
      ...values,
      userId,
      id,
      expectedVersion,
    });
    if (rows.length === 0) return this.explainMissing(userId, id, expectedVersion);
    return rows[0];
  }

  /**
   * A write matched no row: says whether the row is missing (for this owner) or at another
   * version. Runs only on that failure path, so a successful write stays one statement.
   */
  private async explainMissing(
    userId: string,
    id: string,
    expectedVersion: number | undefined,
  ): Promise<never> {
    const current = expectedVersion === undefined ? null : await this.findOne(userId, id);
    if (current && expectedVersion !== undefined) {
      throw new VersionConflictError(this.resource.noun, id, expectedVersion, current.version);
    }
    throw notFound(this.resource, id);
  }
}
