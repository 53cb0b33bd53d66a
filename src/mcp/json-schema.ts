import type { OpenAPIObject, ReferenceObject, SchemaObject } from '@nestjs/swagger';

/** A JSON Schema, as MCP tools declare their input and output (plain JSON, no `$ref`). */
export type JsonSchema = { [keyword: string]: unknown };

/** The schema of a tool's arguments or structured result: always an object. */
export interface ObjectSchema extends JsonSchema {
  type: 'object';
  properties: Record<string, JsonSchema>;
  required?: string[];
}

const isReference = (value: object): value is ReferenceObject => '$ref' in value;

// Keywords of OpenAPI 3.0 schemas that JSON Schema lacks or spells otherwise.
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf'] as const;

/**
 * The JSON Schema of an OpenAPI 3.0 schema of the service's own document: references inlined
 * (MCP tool schemas stand alone), `nullable` as a `null` type, `example` as `examples`. The
 * document is generated from the DTO classes the REST routes validate with, so a tool's schema
 * states the same rules as the route's.
 */
export function toJsonSchema(
  schema: SchemaObject | ReferenceObject,
  document: OpenAPIObject,
): JsonSchema {
  if (isReference(schema)) return toJsonSchema(resolve(schema, document), document);
  const { nullable, example, properties, items, additionalProperties, ...rest } = schema;
  const converted: JsonSchema = { ...rest };
  if (example !== undefined) converted.examples = [example];
  if (properties) {
    converted.properties = Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [
        name,
        toJsonSchema(property, document),
      ]),
    );
  }
  if (items) converted.items = toJsonSchema(items, document);
  if (additionalProperties !== undefined) {
    converted.additionalProperties =
      typeof additionalProperties === 'boolean'
        ? additionalProperties
        : toJsonSchema(additionalProperties, document);
  }
  for (const keyword of SCHEMA_LISTS) {
    const list = schema[keyword];
    if (list) converted[keyword] = list.map((item) => toJsonSchema(item, document));
  }
  if (nullable === true) {
    if (typeof rest.type === 'string') converted.type = [rest.type, 'null'];
    if (rest.enum) converted.enum = [...rest.enum, null];
  }
  return converted;
}

/** The schema a `#/components/schemas/…` reference names. */
function resolve(reference: ReferenceObject, document: OpenAPIObject): SchemaObject {
  const name = reference.$ref.replace(/^#\/components\/schemas\//, '');
  const schema = document.components?.schemas?.[name];
  if (!schema) throw new Error(`the OpenAPI document has no schema ${reference.$ref}`);
  return isReference(schema) ? resolve(schema, document) : schema;
}

/** The object schema of `schema` (a request or response body), resolved. */
export function toObjectSchema(
  schema: SchemaObject | ReferenceObject,
  document: OpenAPIObject,
): ObjectSchema {
  const converted = toJsonSchema(schema, document);
  if (converted.type !== 'object' || typeof converted.properties !== 'object') {
    throw new Error('an MCP tool schema must be an object with properties');
  }
  return converted as ObjectSchema;
}
