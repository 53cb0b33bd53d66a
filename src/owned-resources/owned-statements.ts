import type {
  DataSource,
  EntityTarget,
  ObjectLiteral,
  SelectQueryBuilder,
  UpdateQueryBuilder,
} from 'typeorm';
import type { WhereExpressionBuilder } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import {
  defineStatement,
  type ParameterName,
  sqlText,
  type StatementDefinition,
  type StatementText,
} from '../database/compiled-statements';
import {
  changesStatement,
  idempotentCreateStatement,
  RELEASE_EXPIRED_KEY,
  replayStatement,
  type SyncedResource,
} from '../sync/sync.statements';
import { isoTimestamp } from '../database/iso-timestamp';
import { pageAccounting, rowBytes } from '../database/page-budget';
import type { OwnedEntity, OwnedResource } from './owned-resource';

/**
 * The statements of an owned resource. Every one starts from `ownerScope`, so none can run
 * without `user_id = $owner`; writes are single atomic statements (never read-then-write).
 */
export interface OwnedStatements {
  findOne: StatementDefinition<Record<string, never>>;
  /** Absent for a resource with `ownList`. */
  list?: StatementDefinition<{
    sort: readonly string[];
    indexedFilter: string[];
    resumed: boolean[];
  }>;
  create: StatementDefinition<Record<string, never>>;
  update: StatementDefinition<{ checked: boolean[] }>;
  remove: StatementDefinition<{ checked: boolean[] }>;
  /**
   * With `idempotentCreates`: the create and its key in one statement (rows in column names), and
   * the key's stored answer.
   */
  idempotentCreate?: StatementDefinition<Record<string, never>>;
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

const CHECKED = [false, true];

/** The `indexedFilter` of a list statement that no indexed filter chose. */
export const NO_INDEXED_FILTER = 'none';

/**
 * The parameter that names the fields a write was sent (a text array of property names). The
 * statements set every writable column, each from its parameter only when this lists it, so one
 * statement serves every subset of fields instead of one statement per subset.
 */
export const FIELDS_SENT = 'fieldsSent';

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
const isText = (column: ColumnMetadata): boolean =>
  column.type === 'varchar' || column.type === 'text';
/**
 * A text column as `octet_length` sizes it: an array of texts (`text[]`) by its literal, which
 * is about the size of its JSON; a plain text as it is, so that a TOASTed one is not fetched.
 */
const sizedText = (column: ColumnMetadata): string =>
  column.isArray ? `${column.databaseName}::text` : column.databaseName;

/** The SQL size of a row of `resource` in a page (database/page-budget.ts): its texts. */
export const rowBytesOf = <E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  alias?: string,
): string => rowBytes(selectedColumns(dataSource, resource).filter(isText).map(sizedText), alias);

/** Adds the columns of `pageAccounting` for a statement ordered by `order`. */
export function withPageAccounting<B extends SelectQueryBuilder<ObjectLiteral>>(
  builder: B,
  size: string,
  order: string,
): B {
  for (const [alias, expression] of Object.entries(pageAccounting(size, order))) {
    builder.addSelect(expression, alias);
  }
  return builder;
}

/** The resource as the statements of `src/sync` see it: selected columns by column name. */
export function syncedResource<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
): SyncedResource {
  const columns = selectedColumns(dataSource, resource);
  return {
    table: resource.table,
    columns: columns.map((column) => column.databaseName),
    properties: columns.map((column) => column.propertyName),
    timestamps: columns.filter(isTimestamp).map((column) => column.databaseName),
    texts: columns.filter(isText).map(sizedText),
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
  return columnMetadataOf(dataSource, resource, property).databaseName;
}

function columnMetadataOf<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  property: string,
): ColumnMetadata {
  const column = dataSource.getMetadata(resource.entity).findColumnWithPropertyName(property);
  if (!column) throw new Error(`${resource.table} has no property ${property}`);
  return column;
}

/**
 * A parameter cast to its column's type, without a length (`varchar`, not `varchar(255)`: an
 * explicit cast would cut a long text instead of refusing it). For a parameter whose type
 * PostgreSQL cannot infer from the expression around it.
 */
function typedParameter(dataSource: DataSource, column: ColumnMetadata, property: string): string {
  const type = dataSource.driver.normalizeType(column);
  const sqlType =
    type === 'enum'
      ? (column.enumName ?? `${column.entityMetadata.tableName}_${column.databaseName}_enum`)
      : type;
  return `CAST(:${property} AS ${sqlType}${column.isArray ? '[]' : ''})`;
}

/**
 * `column = $property`, or true when the value is not given: one statement for a filter given or
 * not. A CASE, not `$x IS NULL OR column = $x`: the generic plan of a prepared statement (planned
 * without the values) estimates the OR as nearly no rows, and then prefers reading all the
 * owner's rows and sorting them to reading the sort's index in order; the CASE is estimated as
 * half the rows, as an equality on a boolean is. A custom plan folds either into the equality.
 */
function optionalEquality<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  property: string,
): string {
  const column = columnMetadataOf(dataSource, resource, property);
  const given = typedParameter(dataSource, column, property);
  return `CASE WHEN ${given} IS NULL THEN true ELSE ${column.databaseName} = :${property} END`;
}

/** Whether `property` is among the fields a write was sent (see `FIELDS_SENT`). */
const sent = (property: string): string => `'${property}' = ANY(:${FIELDS_SENT}::text[])`;

/** The parameters named after `properties`, and `FIELDS_SENT`. */
export const sentParameters = (
  properties: readonly string[],
  p: ParameterName,
): Record<string, string> =>
  Object.fromEntries([FIELDS_SENT, 'userId', ...properties].map((name) => [name, p(name)]));

/**
 * The `SET` of a write of `properties`: each column takes its parameter when the field was sent
 * (null included: `description: null` clears it) and keeps its value otherwise. For `.set()`,
 * with `sentParameters` bound.
 */
export function sentChanges<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  properties: readonly string[],
): Record<string, () => string> {
  return Object.fromEntries(
    properties.map((property) => {
      const column = columnMetadataOf(dataSource, resource, property);
      // A reference check needs the parameter's type, which nothing else in it tells.
      const given = hidesRows(resource, property)
        ? referenceTo(resource, property, typedParameter(dataSource, column, property))
        : written(resource, property, `:${property}`);
      return [
        property,
        () => `CASE WHEN ${sent(property)} THEN ${given} ELSE ${column.databaseName} END`,
      ];
    }),
  );
}

/** Whether `property` references a resource that hides some of its owner's rows. */
const hidesRows = <E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
  property: string,
): boolean => (resource.references?.[property as keyof E & string]?.visible?.length ?? 0) > 0;

/**
 * An id that no row has (`gen_random_uuid()` makes version-4 ids only): what a reference to a
 * hidden row is replaced with, so that the foreign key refuses it as it refuses a missing one.
 */
const NO_ROW_ID = `'00000000-0000-0000-0000-000000000000'::uuid`;

/**
 * The value a write stores for `property`: `value` itself, unless the property references a
 * resource that hides rows (`visible`, the trash) and `value` names one hidden from its owner;
 * then an id no row has, which the table's same-owner foreign key refuses exactly as it refuses
 * a missing row or another user's (one refusal, one statement, no read before the write).
 */
function referenceTo<E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
  property: string,
  value: string,
): string {
  const target = resource.references?.[property as keyof E & string];
  if (!target?.visible || !hidesRows(resource, property)) return value;
  const live = [
    'referenced.user_id = :userId',
    `referenced.id = ${value}`,
    ...target.visible.map((predicate) => `(${predicate})`),
  ].join(' AND ');
  return (
    `CASE WHEN ${value} IS NULL OR EXISTS (SELECT 1 FROM "${target.table}" referenced ` +
    `WHERE ${live}) THEN ${value} ELSE ${NO_ROW_ID} END`
  );
}

/**
 * The SQL that stores a property's `value` (a parameter): the value itself, or the resource's
 * `writtenAs` around it, whose `:userId` is the owner (bound by every owned statement).
 */
const written = <E extends OwnedEntity>(
  resource: OwnedResource<E, string>,
  property: string,
  value: string,
): string =>
  resource.writtenAs?.[property as keyof E & string]?.replaceAll(':value', value) ?? value;

/**
 * An update of the `properties` a write was sent (see `sentChanges`), `version` + 1, scoped to
 * its owner and to the rows `ownerScope` sees; the caller adds which rows.
 */
export function updateSent<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  properties: readonly string[],
  p: ParameterName,
) {
  return ownerScope(dataSource, resource, p)
    .update()
    .set({
      ...withFollowUpChanges(dataSource, resource, sentChanges(dataSource, resource, properties)),
      version: () => 'version + 1',
    })
    .setParameters(sentParameters(properties, p));
}

/**
 * An update's `SET`, with the columns the resource's `writeFollowUp` derives from it: each reads
 * the SQL of a property's new value (its change, or the column when the update leaves it).
 */
export function withFollowUpChanges<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  changes: Record<string, string | (() => string)>,
): Record<string, string | (() => string)> {
  const followUp = resource.writeFollowUp;
  if (!followUp) return changes;
  const after = (property: string): string => {
    const change = changes[property];
    return change === undefined
      ? columnOf(dataSource, resource, property)
      : typeof change === 'function'
        ? change()
        : change;
  };
  const derived = Object.entries(followUp.set(after)).map(([property, sql]) => [
    property,
    () => sql,
  ]);
  return { ...changes, ...Object.fromEntries(derived) };
}

/**
 * The end of an update of existing rows: `RETURNING <columns>`, and with the resource's
 * `writeFollowUp`, its `followUp` column too.
 */
export function returningWritten<E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  builder: UpdateQueryBuilder<ObjectLiteral>,
): StatementText {
  const followUp = resource.writeFollowUp;
  const columns = columnList(dataSource, resource);
  return builder.returning(followUp ? `${columns}, ${followUp.answered} AS "followUp"` : columns);
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
      returningWritten(
        dataSource,
        resource,
        withExpectedVersion(
          ownerScope(dataSource, resource, p)
            .update()
            .set({
              ...withFollowUpChanges(dataSource, resource, changes(p)),
              version: () => 'version + 1',
            })
            .andWhere('id = :id', { id: p('id') }),
          p,
          shape.checked,
        ),
      ),
  });
}

/**
 * The insert of a create: each insertable column takes its parameter when the field was sent,
 * and its default otherwise (the entity's, which the migrations' schema matches; NULL without
 * one). `DEFAULT` itself cannot appear inside an expression, hence the default's SQL here.
 */
const insert = <E extends OwnedEntity>(
  dataSource: DataSource,
  resource: OwnedResource<E, string>,
  p: ParameterName,
) => {
  const target: EntityTarget<ObjectLiteral> = resource.entity;
  const values = Object.fromEntries(
    resource.insertable.map((property) => {
      const column = columnMetadataOf(dataSource, resource, property);
      const absent = dataSource.driver.normalizeDefault(column) ?? 'NULL';
      const given = written(
        resource,
        property,
        referenceTo(resource, property, typedParameter(dataSource, column, property)),
      );
      return [property, () => `CASE WHEN ${sent(property)} THEN ${given} ELSE ${absent} END`];
    }),
  );
  return (
    dataSource
      .createQueryBuilder()
      .insert()
      .into(target)
      .values({ userId: p('userId'), ...values })
      // `userId` once more by name, for the reference checks (`referenceTo`).
      .setParameters({ ...sentParameters(resource.insertable, p), userId: p('userId') })
  );
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
      shapes: {},
      build: (dataSource, _shape, p) => {
        // The whole row: the key stores it as the answer to replay (`to_jsonb` of the row).
        const [text, parameters] = insert(dataSource, resource, p)
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
          p('maxBytes'),
        ]),
    });
  }
  return statements;
}

/** The resource's `indexedFilters`, each of which must be one of its `filters`. */
function indexedFilters<E extends OwnedEntity>(resource: OwnedResource<E, string>): string[] {
  const indexed = [...(resource.indexedFilters ?? [])];
  const stray = indexed.find((property) => !resource.filters.includes(property));
  if (stray) throw new Error(`${resource.table}: indexed filter ${stray} is not a filter`);
  return indexed;
}

/**
 * Declares the five statements every owned resource has, named `<table>.<operation>`. Their
 * number grows with the operations and options (a sort, a resumed page, a version check, an
 * indexed filter), never with the fields: a write sets every writable column, each from its
 * parameter only when the field was sent.
 */
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
              indexedFilter: [NO_INDEXED_FILTER, ...indexedFilters(resource)],
              resumed: CHECKED,
            },
            limit: 'limit',
            budget: 'maxBytes',
            build: (dataSource, shape, p) => {
              const builder = ownerScope(dataSource, resource, p).select(
                columnList(dataSource, resource),
              );
              for (const property of resource.filters) {
                builder.andWhere(
                  property === shape.indexedFilter
                    ? `${columnOf(dataSource, resource, property)} = :${property}`
                    : optionalEquality(dataSource, resource, property),
                  { [property]: p(property) },
                );
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
              return withPageAccounting(
                builder,
                rowBytesOf(dataSource, resource),
                `${column} ${direction}, id ${direction}`,
              )
                .orderBy(column, direction)
                .addOrderBy('id', direction);
            },
          }),
        }),

    create: defineStatement({
      name: name('create'),
      shapes: {},
      build: (dataSource, _shape, p) =>
        insert(dataSource, resource, p).returning(columnList(dataSource, resource)),
    }),

    update: defineStatement({
      name: name('update'),
      shapes: { checked: CHECKED },
      build: (dataSource, shape, p) =>
        returningWritten(
          dataSource,
          resource,
          withExpectedVersion(
            updateSent(dataSource, resource, resource.updatable, p).andWhere('id = :id', {
              id: p('id'),
            }),
            p,
            shape.checked,
          ),
        ),
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
