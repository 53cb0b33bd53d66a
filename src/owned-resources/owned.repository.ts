import type { Repository } from 'typeorm';
import {
  CompiledStatements,
  type Shape,
  type ShapeSpace,
  type StatementDefinition,
} from '../database/compiled-statements';
import { InvalidInputError, VersionConflictError } from '../database/resource.errors';
import { notFound, type OwnedEntity, type OwnedResource } from './owned-resource';
import type { OwnedStatements } from './owned-statements';

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
}

/**
 * Data access for an owned resource. Every method takes the owner first, and every statement it
 * issues carries `user_id = $owner`: another user's row behaves exactly like one that does not
 * exist. A feature's abstract repository extends this and is its DI token.
 */
export abstract class OwnedRepository<E, Sort extends string, Create, Patch> {
  abstract create(userId: string, input: Create): Promise<E>;
  abstract findOne(userId: string, id: string): Promise<E | null>;
  abstract list(userId: string, query: ListQuery<E, Sort>): Promise<Page<E, Sort>>;
  abstract update(userId: string, id: string, patch: Patch, expectedVersion?: number): Promise<E>;
  abstract remove(userId: string, id: string, expectedVersion?: number): Promise<void>;
}

const assertOwner = (userId: string): void => {
  if (typeof userId !== 'string' || userId.trim() === '') {
    throw new InvalidInputError('The owner id must not be blank', 'user_id');
  }
};

/** The properties of `input` that are set (not undefined), in the order of `names`. */
const present = (input: object, names: readonly string[]): string[] =>
  names.filter((name) => (input as Record<string, unknown>)[name] !== undefined);

const cursorValue = (value: unknown): string =>
  value instanceof Date ? value.toISOString() : String(value);

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

  constructor(
    protected readonly resource: OwnedResource<E, Sort>,
    private readonly queries: OwnedStatements,
    repository: Repository<E>,
  ) {
    this.statements = new CompiledStatements(repository.manager.connection, resource.constraints);
  }

  async create(userId: string, input: Create): Promise<E> {
    assertOwner(userId);
    const fields = present(input, this.resource.insertable);
    const [row] = await this.statements.rows<E, OwnedStatements['create']['shapes']>(
      this.queries.create,
      { fields: fields.join(',') },
      { ...input, userId },
    );
    return row;
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
    const filters = present(where, this.resource.filters);
    const rows = await this.statements.rows<E, OwnedStatements['list']['shapes']>(
      this.queries.list,
      { sort: query.sort, filters: filters.join(','), resumed: query.after !== undefined },
      {
        ...where,
        userId,
        afterValue: query.after?.value,
        afterId: query.after?.id,
        limit: query.limit + 1,
      },
    );
    const items = rows.slice(0, query.limit);
    const last = rows.length > query.limit ? rows[query.limit - 1] : null;
    const { property } = this.resource.sorts[query.sort];
    return {
      items,
      next: last ? { sort: query.sort, value: cursorValue(last[property]), id: last.id } : null,
    };
  }

  async update(userId: string, id: string, patch: Patch, expectedVersion?: number): Promise<E> {
    const fields = present(patch, this.resource.updatable);
    if (fields.length === 0) {
      throw new InvalidInputError('An update must change at least one field', null);
    }
    return this.write(
      this.queries.update,
      { fields: fields.join(','), checked: expectedVersion !== undefined },
      userId,
      id,
      expectedVersion,
      patch,
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
