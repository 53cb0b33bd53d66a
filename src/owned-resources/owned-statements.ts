import type { DataSource, EntityTarget, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { WhereExpressionBuilder } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import {
  defineStatement,
  type ParameterName,
  sqlText,
  type StatementDefinition,
} from '../database/compiled-statements';
import {
  changesStatement,
  idempotentCreateStatement,
  RELEASE_EXPIRED_KEY,
  replayStatement,
  type SyncedResource,
} from '../sync/sync.statements';
import { isoTimestamp } from '../database/iso-timestamp';
import type { OwnedEntity, OwnedResource } from './owned-resource';

/**
 * The statements of an owned resource. Every one starts from `ownerScope`, so none can run
 * without `user_id = $owner`; writes are single atomic statements (never read-then-write).
 */
export interface OwnedStatements {
  findOne: StatementDefinition<Record<string, never>>;
  /** Absent for a resource with `ownList`. */
  list?: StatementDefinition<{ sort: readonly string[]; filters: string[]; resumed: boolean[] }>;
  create: StatementDefinition<{ fields: string[] }>;
  update: StatementDefinition<{ fields: string[]; checked: boolean[] }>;
  remove: StatementDefinition<{ checked: boolean[] }>;
  /**
   * With `idempotentCreates`: the create and its key in one statement (rows in column names), and
   * the key's stored answer.
   */
  idempotentCreate?: StatementDefinition<{ fields: string[] }>;
  replay?: StatementDefinition<Record<string, never>>;
  /** With `changesFeed`: one page of changes (rows in column names). */
  changes?: StatementDefinition<Record<string, never>>;
}

/** Frees an expired key before the create runs again; shared by every resource. */
export const RELEASE_EXPIRED_IDEMPOTENCY_KEY = defineStatement({
  name: 'idempotency_keys.releaseExpired',
  shapes: {},
  build: (_dataSource, _shape, p) => sqlText(RELEASE_EXPIRED_KEY, [p('userId'), p('key')]),
});

/** Every subset of `names`, each as its names joined by commas in declared order. */
export function subsets(names: readonly string[], { nonEmpty = false } = {}): string[] {
  const all = names.reduce<string[][]>(
    (sets, name) => [...sets, ...sets.map((set) => [...set, name])],
    [[]],
  );
  return all.filter((set) => !nonEmpty || set.length > 0).map((set) => set.join(','));
}

/** The names of a `fields`-like shape value. */
export const namesOf = (joined: string): string[] => (joined === '' ? [] : joined.split(','));

const CHECKED = [false, true];

/**
 * The select and `RETURNING` list: every column of the entity, as its property name. A row is
 * then the entity as it is (pg gives booleans and numbers, and timestamps come as ISO-8601
 * text), with no mapping step.
 */
export function columnList<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
): string {
  return selectedColumns(dataSource, resource)
    .map((column) => {
      const name = `"${column.databaseName}"`;
      return `${isTimestamp(column) ? isoTimestamp(name) : name} AS "${column.propertyName}"`;
    })
    .join(', ');
}

const isTimestamp = (column: ColumnMetadata): boolean => column.type === 'timestamptz';

/** The resource as the statements of `src/sync` see it: selected columns by column name. */
export function syncedResource<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
): SyncedResource {
  const columns = selectedColumns(dataSource, resource);
  return {
    table: resource.table,
    columns: columns.map((column) => column.databaseName),
    timestamps: columns.filter(isTimestamp).map((column) => column.databaseName),
    trash: resource.changesFeed?.trash ?? false,
  };
}

/**
 * Maps a row in column names (the statements of `src/sync`, which read whole table rows) to the
 * entity's properties, as `columnList` names them for the other statements.
 */
export function fromColumnNames<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
): (row: Record<string, unknown>) => E {
  const columns = selectedColumns(dataSource, resource);
  return (row) =>
    Object.fromEntries(
      columns.map((column) => [column.propertyName, row[column.databaseName]]),
    ) as unknown as E;
}

const selectedColumns = <E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
) => dataSource.getMetadata(resource.entity).columns.filter((column) => column.isSelect);

/** The column of a property, by the entity's metadata. */
export function columnOf<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  property: string,
): string {
  const column = dataSource.getMetadata(resource.entity).findColumnWithPropertyName(property);
  if (!column) throw new Error(`${resource.table} has no property ${property}`);
  return column.databaseName;
}

/**
 * The one place an owned statement starts: scoped to its owner, then to the visible rows, before
 * anything else is added. Columns are unqualified so that the same predicates read right in
 * SELECT, UPDATE and DELETE.
 */
export function ownerScope<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  p: ParameterName,
): SelectQueryBuilder<ObjectLiteral> {
  const target: EntityTarget<ObjectLiteral> = resource.entity;
  const builder = dataSource
    .createQueryBuilder(target, resource.table)
    .where('user_id = :userId', { userId: p('userId') });
  for (const predicate of resource.visible ?? []) builder.andWhere(predicate);
  return builder;
}

/** `AND version = $expectedVersion` when the caller sent `If-Match` with a version. */
export function withExpectedVersion<B extends WhereExpressionBuilder>(
  builder: B,
  p: ParameterName,
  checked: boolean,
): B {
  if (checked) {
    builder.andWhere('version = :expectedVersion', { expectedVersion: p('expectedVersion') });
  }
  return builder;
}

/**
 * An owned, versioned write of one row: `UPDATE … SET <changes>, version = version + 1 WHERE
 * user_id AND id [AND version] RETURNING <columns>`. For a resource's own writes (a toggle).
 */
export function defineOwnedWrite<E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
  operation: string,
  changes: (p: ParameterName) => Record<string, string | (() => string)>,
): StatementDefinition<{ checked: boolean[] }> {
  return defineStatement({
    name: `${resource.table}.${operation}`,
    shapes: { checked: CHECKED },
    build: (dataSource, shape, p) =>
      withExpectedVersion(
        ownerScope(dataSource, resource, p)
          .update()
          .set({ ...changes(p), version: () => 'version + 1' })
          .andWhere('id = :id', { id: p('id') }),
        p,
        shape.checked,
      ).returning(columnList(dataSource, resource)),
  });
}

/**
 * The values of written `fields`, by property: each its parameter, or the resource's
 * `writtenAs` SQL around it (raw SQL, so its parameters are bound by name: `parameters`).
 */
function writtenValues<E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
  fields: string,
  p: ParameterName,
): { values: Record<string, string | (() => string)>; parameters: Record<string, string> } {
  const values: Record<string, string | (() => string)> = {};
  const parameters: Record<string, string> = {};
  for (const field of namesOf(fields)) {
    const sql = resource.writtenAs?.[field as keyof E & string];
    if (sql === undefined) {
      values[field] = p(field);
    } else {
      values[field] = () => sql.replaceAll(':value', `:${field}`);
      Object.assign(parameters, { [field]: p(field), userId: p('userId') });
    }
  }
  return { values, parameters };
}

const insert = <E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  fields: string,
  p: ParameterName,
) => {
  const target: EntityTarget<ObjectLiteral> = resource.entity;
  const { values, parameters } = writtenValues(resource, fields, p);
  return dataSource
    .createQueryBuilder()
    .insert()
    .into(target)
    .values({ userId: p('userId'), ...values })
    .setParameters(parameters);
};

/** The statements of `idempotentCreates` and `changesFeed`, for the resources that declare them. */
function syncStatements<E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
): Pick<OwnedStatements, 'idempotentCreate' | 'replay' | 'changes'> {
  const name = (operation: string): string => `${resource.table}.${operation}`;
  const statements: Pick<OwnedStatements, 'idempotentCreate' | 'replay' | 'changes'> = {};
  if (resource.idempotentCreates) {
    statements.idempotentCreate = defineStatement({
      name: name('idempotentCreate'),
      shapes: { fields: subsets(resource.insertable) },
      build: (dataSource, shape, p) => {
        // The whole row: the key stores it as the answer to replay (`to_jsonb` of the row).
        const [text, parameters] = insert(dataSource, resource, shape.fields, p)
          .returning('*')
          .getQueryAndParameters();
        return sqlText(
          idempotentCreateStatement(
            text,
            parameters.length + 1,
            syncedResource(dataSource, resource),
          ),
          [
            ...(parameters as string[]),
            p('key'),
            p('requestHash'),
            p('collectionPath'),
            p('ttlHours'),
          ],
        );
      },
    });
    statements.replay = defineStatement({
      name: name('replay'),
      shapes: {},
      build: (dataSource, _shape, p) =>
        sqlText(replayStatement(syncedResource(dataSource, resource)), [p('userId'), p('key')]),
    });
  }
  if (resource.changesFeed) {
    statements.changes = defineStatement({
      name: name('changes'),
      shapes: {},
      build: (dataSource, _shape, p) =>
        sqlText(changesStatement(syncedResource(dataSource, resource)), [
          p('userId'),
          p('sinceXid'),
          p('sinceId'),
          p('limit'),
          p('incremental'),
        ]),
    });
  }
  return statements;
}

/** Declares the five statements every owned resource has, named `<table>.<operation>`. */
export function defineOwnedStatements<E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
): OwnedStatements {
  const name = (operation: string): string => `${resource.table}.${operation}`;
  return {
    findOne: defineStatement({
      name: name('findOne'),
      shapes: {},
      build: (dataSource, _shape, p) =>
        ownerScope(dataSource, resource, p)
          .select(columnList(dataSource, resource))
          .andWhere('id = :id', { id: p('id') }),
    }),

    ...(resource.ownList
      ? {}
      : {
          list: defineStatement({
            name: name('list'),
            shapes: {
              sort: Object.keys(resource.sorts),
              filters: subsets(resource.filters),
              resumed: CHECKED,
            },
            limit: 'limit',
            build: (dataSource, shape, p) => {
              const builder = ownerScope(dataSource, resource, p).select(
                columnList(dataSource, resource),
              );
              for (const property of namesOf(shape.filters)) {
                builder.andWhere(`${columnOf(dataSource, resource, property)} = :${property}`, {
                  [property]: p(property),
                });
              }
              const key = resource.sorts[shape.sort];
              if (key.type === 'composite')
                throw new Error(`${resource.table} lists by its own statement`);
              const column = columnOf(dataSource, resource, key.property);
              const direction = key.descending ? 'DESC' : 'ASC';
              // Keyset pagination: a row comparison that the (user_id, column, id) index serves, so
              // page N costs what page 1 costs.
              if (shape.resumed) {
                builder.andWhere(
                  `(${column}, id) ${key.descending ? '<' : '>'} (:afterValue, :afterId)`,
                  {
                    afterValue: p('afterValue'),
                    afterId: p('afterId'),
                  },
                );
              }
              return builder.orderBy(column, direction).addOrderBy('id', direction);
            },
          }),
        }),

    create: defineStatement({
      name: name('create'),
      shapes: { fields: subsets(resource.insertable) },
      build: (dataSource, shape, p) =>
        insert(dataSource, resource, shape.fields, p).returning(columnList(dataSource, resource)),
    }),

    update: defineStatement({
      name: name('update'),
      shapes: { fields: subsets(resource.updatable, { nonEmpty: true }), checked: CHECKED },
      build: (dataSource, shape, p) => {
        const { values, parameters } = writtenValues(resource, shape.fields, p);
        return withExpectedVersion(
          ownerScope(dataSource, resource, p)
            .update()
            .set({ ...values, version: () => 'version + 1' })
            .setParameters(parameters)
            .andWhere('id = :id', { id: p('id') }),
          p,
          shape.checked,
        ).returning(columnList(dataSource, resource));
      },
    }),

    remove: defineStatement({
      name: name('remove'),
      shapes: { checked: CHECKED },
      build: (dataSource, shape, p) =>
        withExpectedVersion(
          ownerScope(dataSource, resource, p)
            .delete()
            .andWhere('id = :id', { id: p('id') }),
          p,
          shape.checked,
        ).returning('"id" AS "id"'),
    }),

    ...syncStatements(resource),
  };
}
