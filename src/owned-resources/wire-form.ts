import type { Type } from '@nestjs/common';
import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';
import { getMetadataArgsStorage } from 'typeorm';
import type { ColumnMetadataArgs } from 'typeorm/metadata-args/ColumnMetadataArgs';

/**
 * An owned resource on the wire is its row: each column under its own (snake_case) name, the
 * timestamps as ISO-8601 text. What the wire leaves out: the version (it travels in `ETag`) and
 * the columns never selected (`select: false`, such as `change_xid`).
 */
const NOT_ON_THE_WIRE = new Set(['version']);

/** A plain object keyed by the wire names. */
export type WireForm = Record<string, unknown>;

interface WireColumn {
  property: string;
  name: string;
  column: ColumnMetadataArgs;
}

const EXAMPLE_TIMESTAMP = '2025-01-31T09:30:00.000Z';

/** The entity's columns that the wire carries, in the order the entity declares them. */
function wireColumns(entity: Type<unknown>): WireColumn[] {
  return getMetadataArgsStorage()
    .filterColumns(entity)
    .filter((column) => column.options.select !== false)
    .filter((column) => !NOT_ON_THE_WIRE.has(column.propertyName))
    .map((column) => ({
      property: column.propertyName,
      name: column.options.name ?? column.propertyName,
      column,
    }));
}

/** The OpenAPI schema of a column, from its TypeORM declaration. */
function schemaOf({ name, column }: WireColumn): ApiPropertyOptions {
  const { type, length, nullable, enum: values } = column.options;
  const common = nullable ? { nullable: true } : {};
  if (name === 'user_id')
    return { type: String, description: "The owner's id: the token's subject." };
  switch (type) {
    case 'uuid':
      return { type: String, format: 'uuid', ...common };
    case 'varchar':
      return { type: String, maxLength: Number(length), ...common };
    case 'text':
      return { type: String, ...common };
    case 'boolean':
      return { type: Boolean, ...common };
    case 'integer':
      return { type: 'integer', ...common };
    case 'enum':
      return { type: String, enum: Object.values(values ?? {}) as string[], ...common };
    case 'timestamptz':
      return { type: String, format: 'date-time', example: EXAMPLE_TIMESTAMP, ...common };
    default:
      throw new Error(`No wire form for ${String(type)} columns (${name}): map it in wire-form.ts`);
  }
}

const responses = new WeakMap<Type<unknown>, Type<WireForm>>();

/**
 * The response class of an entity, for OpenAPI: `<Entity>Response`, one property per wire
 * column. Made once per entity, so that every route refers to one schema.
 */
export function wireResponseOf(entity: Type<unknown>): Type<WireForm> {
  const known = responses.get(entity);
  if (known) return known;
  const response = class {} as Type<WireForm>;
  Object.defineProperty(response, 'name', { value: `${entity.name}Response` });
  for (const column of wireColumns(entity)) {
    ApiProperty(schemaOf(column))(response.prototype as object, column.name);
  }
  responses.set(entity, response);
  return response;
}

/**
 * Maps an item to its wire form: built once per entity, then a plain copy of its wire columns
 * (on the path of every response).
 */
export function wireFormOf<E extends object>(entity: Type<E>): (item: E) => WireForm {
  const columns = wireColumns(entity).map(({ property, name }) => [property, name] as const);
  return (item) => {
    const wire: WireForm = {};
    for (const [property, name] of columns)
      wire[name] = (item as Record<string, unknown>)[property];
    return wire;
  };
}

/** The wire name (the column name) of each of `properties`: `listId` is sent as `list_id`. */
export function wireNamesOf<E>(
  entity: Type<E>,
  properties: readonly (keyof E & string)[],
): [keyof E & string, string][] {
  const columns = getMetadataArgsStorage().filterColumns(entity);
  return properties.map((property) => {
    const column = columns.find((candidate) => candidate.propertyName === property);
    if (!column) throw new Error(`${entity.name}.${property} is not a column`);
    return [property, column.options.name ?? property];
  });
}
